import type { Redis } from 'ioredis';
import {
  PARTITION_PATTERN,
  isPartitionKey,
  lanePartitionPattern,
  partitionTag,
} from '@temps/streams';

/** Each key's type (`stream`, `hash`, …, or `none`), in one pipelined round trip. */
export async function keyTypes(redis: Redis, keys: readonly string[]): Promise<string[]> {
  const pipeline = redis.pipeline();
  keys.forEach((key) => pipeline.type(key));
  return ((await pipeline.exec()) ?? []).map(([error, type]) => {
    if (error) throw error;
    return type as string;
  });
}

/**
 * Day partitions in Redis, oldest first (SCAN, so Redis is never blocked): of the exercise's layout
 * (`temps:YYYYMMDD`, lane null, the default), of one lane (its tag), or of every layout and lane
 * ('*'). Foreign keys are left out: names that are not a day (temps:garbage, temps:20251399) and keys
 * that are not streams.
 */
export async function scanPartitions(
  redis: Redis,
  lane: string | null | '*' = null,
): Promise<string[]> {
  const keys = new Set<string>();
  const patterns =
    lane === null
      ? [PARTITION_PATTERN]
      : lane === '*'
        ? [PARTITION_PATTERN, lanePartitionPattern('*')]
        : [lanePartitionPattern(lane)];
  for (const match of patterns) {
    const scan = redis.scanStream({ match, type: 'stream', count: 1000 });
    for await (const batch of scan) {
      for (const key of batch as string[]) {
        if (isPartitionKey(key) && (lane === '*' || partitionTag(key) === lane)) keys.add(key);
      }
    }
  }
  return [...keys].sort();
}
