import type { Redis } from 'ioredis';
import { PARTITION_PATTERN, isPartitionKey } from '@temps/streams';

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
 * Every day partition in Redis, oldest first (SCAN, so Redis is never blocked). Foreign keys are
 * left out: names that are not a day (temps:garbage, temps:20251399) and keys that are not streams.
 */
export async function scanPartitions(redis: Redis): Promise<string[]> {
  const keys = new Set<string>();
  const scan = redis.scanStream({ match: PARTITION_PATTERN, type: 'stream', count: 1000 });
  for await (const batch of scan) {
    for (const key of batch as string[]) if (isPartitionKey(key)) keys.add(key);
  }
  return [...keys].sort();
}
