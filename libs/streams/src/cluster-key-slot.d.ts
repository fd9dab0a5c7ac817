declare module 'cluster-key-slot' {
  /** Redis Cluster hash slot (CRC16 mod 16384) of a key, honouring a `{tag}`. */
  export default function generate(key: string): number;
}
