import { withTimeout } from '@temps/common';
import { Gauge, type Registry } from 'prom-client';
import {
  masterNodes,
  nodeAddress,
  scanPartitions,
  singleFlight,
  type RedisClient,
} from '@temps/redis';
import {
  AVERAGES_STREAM,
  AggregatorStateHash,
  LanesAggregatorStateHash,
  headroomMs,
} from '@temps/streams';

export interface StreamStats {
  stream: string;
  length: number;
  /** Seconds until expiry, or null when the key has none (temps:averages). */
  ttlSeconds: number | null;
  memoryBytes: number;
}

/** One master's share (the one node's, without a cluster). */
export interface NodeStats {
  /** `host:port`, as the client reaches it. */
  node: string;
  /** INFO memory `used_memory` and `maxmemory` (0: no limit); NaN when INFO lacks them. */
  usedMemoryBytes: number;
  maxMemoryBytes: number;
  /** Entries in the day partitions this master holds. */
  streamEntries: number;
}

export interface RedisSnapshot {
  streams: StreamStats[];
  /** Over every master: the sum of `used_memory`, and of `maxmemory` (0 when any has no limit). */
  usedMemoryBytes: number;
  /** Redis `maxmemory` (INFO memory): 0 when there is no limit. */
  maxMemoryBytes: number;
  nodes: NodeStats[];
  /**
   * Seconds until the oldest partition the aggregator has not finished reading expires (from its
   * saved state; over lanes, the least over the lanes), or null when it has no state or nothing
   * unread can expire.
   */
  aggregatorHeadroomSeconds: number | null;
}

/**
 * Reads every partition (each master's by its own SCAN), temps:averages, each master's INFO memory
 * and the aggregator's position. Commands are sent together, one per key, so nothing spans slots.
 */
export async function readRedisSnapshot(redis: RedisClient): Promise<RedisSnapshot> {
  const [nodes, averages, cursor, lanes] = await Promise.all([
    Promise.all(
      masterNodes(redis).map(async (node) => {
        const [streams, info] = await Promise.all([
          scanPartitions(node, '*').then((keys) => streamStats(node, keys)),
          node.info('memory'),
        ]);
        return { node: nodeAddress(node), streams, info };
      }),
    ),
    streamStats(redis, [AVERAGES_STREAM]),
    // The aggregator's partition (or, over lanes, each lane's), read through the modules that own
    // their state's field names.
    redis.hget(AggregatorStateHash.KEY, AggregatorStateHash.FIELDS.streamKey),
    redis.hgetall(LanesAggregatorStateHash.KEY),
  ]);
  const stats = [...nodes.flatMap((n) => n.streams), ...averages];
  const perNode: NodeStats[] = nodes.map(({ node, streams, info }) => ({
    node,
    usedMemoryBytes: infoNumber(info, 'used_memory'),
    maxMemoryBytes: infoNumber(info, 'maxmemory'),
    streamEntries: streams.reduce((sum, s) => sum + s.length, 0),
  }));
  const usedMemoryBytes = perNode.reduce((sum, n) => sum + n.usedMemoryBytes, 0);
  const maxMemoryBytes = perNode.some((n) => n.maxMemoryBytes === 0)
    ? 0
    : perNode.reduce((sum, n) => sum + n.maxMemoryBytes, 0);
  const laneCursor = `:${AggregatorStateHash.FIELDS.streamKey}`;
  const cursors = [
    ...(typeof cursor === 'string' ? [cursor] : []),
    ...Object.entries(lanes)
      .filter(([field]) => field.startsWith('lane:') && field.endsWith(laneCursor))
      .map(([, key]) => key),
  ];
  const live = stats.map((s) => ({
    key: s.stream,
    ttlMs: s.ttlSeconds === null ? null : s.ttlSeconds * 1000,
  }));
  // The least headroom over every cursor: the first partition to expire unread.
  const headrooms = cursors
    .map((key) => headroomMs(key, live))
    .filter((ms): ms is number => ms !== null);
  const headroom = headrooms.length > 0 ? Math.min(...headrooms) : null;
  return {
    streams: stats,
    usedMemoryBytes,
    maxMemoryBytes,
    nodes: perNode,
    aggregatorHeadroomSeconds: headroom === null ? null : headroom / 1000,
  };
}

/** Length, expiry and memory of each key that is still a stream (one that expired meanwhile, or of another type, is left out). */
async function streamStats(redis: RedisClient, keys: readonly string[]): Promise<StreamStats[]> {
  const stats = await Promise.all(
    keys.map((stream) =>
      Promise.all([
        redis.xlen(stream),
        redis.pttl(stream),
        redis.memory('USAGE', stream, 'SAMPLES', 0),
      ]).then(
        ([length, pttl, memory]): StreamStats | null =>
          // A key that expired between SCAN and now reports PTTL -2.
          pttl === -2 || memory === null
            ? null
            : { stream, length, ttlSeconds: pttl >= 0 ? pttl / 1000 : null, memoryBytes: memory },
        () => null,
      ),
    ),
  );
  return stats.filter((s): s is StreamStats => s !== null);
}

/** A numeric field of an INFO reply (`field:value` on a line of its own), NaN when absent. */
export function infoNumber(info: string, field: string): number {
  const value = new RegExp(`^${field}:(\\d+)\\r?$`, 'm').exec(info)?.[1];
  return value === undefined ? NaN : Number(value);
}

/**
 * `temps_redis_up`, which every service reports: 1 when a PING on the probe connection answered
 * within `timeoutMs` during this scrape. (The owner of the stream gauges reports the snapshot's
 * success instead, which covers the PING.)
 */
export function registerRedisUp(registry: Registry, redis: RedisClient, timeoutMs = 2_000): void {
  const ping = singleFlight(() =>
    withTimeout(redis.ping(), timeoutMs).then(
      () => true,
      () => false,
    ),
  );
  redisUpGauge(registry, ping);
}

/**
 * Per-stream gauges filled at scrape time, so they describe Redis as it is (expired partitions
 * disappear), plus Redis's memory and the aggregator's headroom. One service registers them (the
 * averages reader, which keeps reporting while the aggregator or the producer is stopped), so the
 * stack scans Redis once per scrape interval, not once per service. One snapshot serves all gauges
 * of a scrape.
 */
export function registerStreamGauges(
  registry: Registry,
  redis: RedisClient,
  timeoutMs = 2_000,
): void {
  let pending: Promise<RedisSnapshot | null> | null = null;
  const snapshot = () => {
    pending ??= withTimeout(readRedisSnapshot(redis), timeoutMs)
      .catch(() => null)
      .finally(() => setTimeout(() => (pending = null), 100));
    return pending;
  };

  const streamGauge = (name: string, help: string, pick: (s: StreamStats) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['stream'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const stats of (await snapshot())?.streams ?? []) {
          const value = pick(stats);
          if (value !== null) this.set({ stream: stats.stream }, value);
        }
      },
    });

  streamGauge(
    'temps_stream_length',
    'Entries in each day partition and in temps:averages.',
    (s) => s.length,
  );
  streamGauge(
    'temps_stream_ttl_seconds',
    'Seconds until each day partition expires.',
    (s) => s.ttlSeconds,
  );
  streamGauge(
    'temps_stream_memory_bytes',
    'Memory used by each stream (MEMORY USAGE).',
    (s) => s.memoryBytes,
  );
  new Gauge({
    name: 'temps_redis_memory_used_bytes',
    help: 'Memory used by Redis in total (INFO used_memory; over a cluster, the sum over its masters).',
    registers: [registry],
    async collect() {
      this.reset();
      const used = (await snapshot())?.usedMemoryBytes;
      if (used !== undefined && Number.isFinite(used)) this.set(used);
    },
  });
  new Gauge({
    name: 'temps_redis_maxmemory_bytes',
    help: 'The memory limit of Redis (INFO maxmemory; over a cluster, the sum over its masters); 0 when it has none.',
    registers: [registry],
    async collect() {
      this.reset();
      const max = (await snapshot())?.maxMemoryBytes;
      if (max !== undefined && Number.isFinite(max)) this.set(max);
    },
  });
  const nodeGauge = (name: string, help: string, pick: (n: NodeStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const stats of (await snapshot())?.nodes ?? []) {
          const value = pick(stats);
          if (Number.isFinite(value)) this.set({ node: stats.node }, value);
        }
      },
    });
  nodeGauge(
    'temps_redis_node_used_memory_bytes',
    'Memory used by each Redis master (INFO used_memory); the one node without a cluster.',
    (n) => n.usedMemoryBytes,
  );
  nodeGauge(
    'temps_redis_node_stream_entries',
    'Entries in the day partitions each Redis master holds.',
    (n) => n.streamEntries,
  );
  new Gauge({
    name: 'temps_aggregator_headroom_seconds',
    help: 'Seconds until the oldest partition the aggregator has not finished reading expires: how long it can be stopped without losing readings.',
    registers: [registry],
    async collect() {
      this.reset();
      const headroom = (await snapshot())?.aggregatorHeadroomSeconds;
      if (headroom !== undefined && headroom !== null) this.set(headroom);
    },
  });
  redisUpGauge(registry, async () => (await snapshot()) !== null);
}

function redisUpGauge(registry: Registry, answered: () => Promise<boolean>): void {
  new Gauge({
    name: 'temps_redis_up',
    help: '1 when this service could read Redis during the scrape, else 0.',
    registers: [registry],
    async collect() {
      this.set((await answered()) ? 1 : 0);
    },
  });
}
