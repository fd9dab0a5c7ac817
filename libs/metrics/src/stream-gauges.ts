import { withTimeout } from '@temps/common';
import { Gauge, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { scanPartitions, singleFlight } from '@temps/redis';
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

export interface RedisSnapshot {
  streams: StreamStats[];
  usedMemoryBytes: number;
  /** Redis `maxmemory` (INFO memory): 0 when there is no limit. */
  maxMemoryBytes: number;
  /**
   * Seconds until the oldest partition the aggregator has not finished reading expires (from its
   * saved state; over lanes, the least over the lanes), or null when it has no state or nothing
   * unread can expire.
   */
  aggregatorHeadroomSeconds: number | null;
}

/** Reads every partition, temps:averages and the aggregator's position in one SCAN plus one pipeline. */
export async function readRedisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const streams = [...(await scanPartitions(redis, '*')), AVERAGES_STREAM];

  const pipeline = redis.pipeline();
  for (const key of streams) pipeline.xlen(key).pttl(key).memory('USAGE', key, 'SAMPLES', 0);
  // The aggregator's partition (or, over lanes, each lane's), read through the modules that own
  // their state's field names.
  pipeline
    .info('memory')
    .hget(AggregatorStateHash.KEY, AggregatorStateHash.FIELDS.streamKey)
    .hgetall(LanesAggregatorStateHash.KEY);
  const replies = (await pipeline.exec()) ?? [];
  const value = (i: number) => (replies[i]?.[0] ? null : replies[i]?.[1]);

  const stats: StreamStats[] = [];
  streams.forEach((stream, i) => {
    const [length, pttl, memory] = [value(3 * i), value(3 * i + 1), value(3 * i + 2)] as number[];
    // A key that expired between SCAN and the pipeline reports PTTL -2, and a temps:averages that
    // someone made into another type has no length: leave them out.
    if (pttl === -2 || memory === null || length === null) return;
    stats.push({ stream, length, ttlSeconds: pttl >= 0 ? pttl / 1000 : null, memoryBytes: memory });
  });
  const info = String(value(3 * streams.length) ?? '');
  const usedMemoryBytes = infoNumber(info, 'used_memory');
  const maxMemoryBytes = infoNumber(info, 'maxmemory');
  const cursor = value(3 * streams.length + 1);
  const lanes = (value(3 * streams.length + 2) ?? {}) as Record<string, string>;
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
    aggregatorHeadroomSeconds: headroom === null ? null : headroom / 1000,
  };
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
export function registerRedisUp(registry: Registry, redis: Redis, timeoutMs = 2_000): void {
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
export function registerStreamGauges(registry: Registry, redis: Redis, timeoutMs = 2_000): void {
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
    help: 'Memory used by the Redis server in total (INFO used_memory).',
    registers: [registry],
    async collect() {
      this.reset();
      const used = (await snapshot())?.usedMemoryBytes;
      if (used !== undefined && Number.isFinite(used)) this.set(used);
    },
  });
  new Gauge({
    name: 'temps_redis_maxmemory_bytes',
    help: 'The memory limit of the Redis server (INFO maxmemory); 0 when it has none.',
    registers: [registry],
    async collect() {
      this.reset();
      const max = (await snapshot())?.maxMemoryBytes;
      if (max !== undefined && Number.isFinite(max)) this.set(max);
    },
  });
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
