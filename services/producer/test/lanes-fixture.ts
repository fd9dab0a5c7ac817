import { ServiceProcess, freePort, type PrivateRedis } from '@temps/testing';
import { LaneRegistryHash } from '@temps/streams';
import type { Redis } from 'ioredis';

/**
 * A chain of SHA-1s over a stream's entries (IDs and fields, in order), computed inside Redis: a
 * partition is read in one atomic step (it cannot expire half-read) and millions of entries do not
 * cross the network. Returns `<entries> <digest>`.
 */
const STREAM_DIGEST_LUA = `
local h, from, n = '', '-', 0
while true do
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 5000)
  local lines = {}
  for i, entry in ipairs(entries) do lines[i] = entry[1] .. ' ' .. table.concat(entry[2], ' ') end
  h = redis.sha1hex(h .. table.concat(lines, '\\n'))
  n = n + #entries
  if #entries < 5000 then return n .. ' ' .. h end
  from = '(' .. entries[#entries][1]
end
`;

/** Every lane partition's contents (entry count and digest of IDs and fields), by key. */
export async function laneDigests(redis: Redis): Promise<Record<string, string>> {
  const keys = (await redis.keys('temps:*:{*}')).sort();
  const digests: Record<string, string> = {};
  for (const key of keys) digests[key] = (await redis.eval(STREAM_DIGEST_LUA, 1, key)) as string;
  return digests;
}

export async function registry(redis: Redis): Promise<LaneRegistryHash.Registry | null> {
  const hash = await redis.hgetall(LaneRegistryHash.KEY);
  return Object.keys(hash).length === 0 ? null : LaneRegistryHash.parse(hash);
}

/** Lanes held per producer id, as the registry says now. */
export async function holdings(redis: Redis): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const lane of (await registry(redis))?.leases.lanes ?? []) {
    counts.set(lane.holder, (counts.get(lane.holder) ?? 0) + 1);
  }
  return counts;
}

/** Whether `ids` hold all `shards` lanes evenly (each ⌊S/n⌋ or ⌈S/n⌉, nobody else any). */
export async function evenlyHeldBy(redis: Redis, ids: string[], shards: number): Promise<boolean> {
  const counts = await holdings(redis);
  const shares = [Math.floor(shards / ids.length), Math.ceil(shards / ids.length)];
  const total = ids.reduce((sum, id) => sum + (counts.get(id) ?? 0), 0);
  return total === shards && ids.every((id) => shares.includes(counts.get(id) ?? 0));
}

/** A real producer process (its own PORT, for --follow) and its id in the registry. */
export class LaneProducer {
  private constructor(
    readonly process: ServiceProcess,
    /** Its HTTP port (/health, /metrics) when it runs with --follow. */
    readonly port: number,
  ) {}

  static async start(server: PrivateRedis, args: string[]): Promise<LaneProducer> {
    const port = await freePort();
    const env = { REDIS_URL: server.url, PORT: String(port) };
    return new LaneProducer(new ServiceProcess('producer', args, env), port);
  }

  /** GET `path` on its HTTP port: status and body (status 0 when nothing answers). */
  async get(path: string): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}${path}`);
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
  }

  /** Its id in the registry, once it has printed it. */
  async id(): Promise<string> {
    await this.process.waitFor(/Producer \S+ in run/);
    return /Producer (\S+) in run/.exec(this.process.stdout)![1];
  }

  /** The run it joined or created. */
  get runId(): string {
    return /in run (\S+):/.exec(this.process.stdout)![1];
  }
}
