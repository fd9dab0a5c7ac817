import type { Redis } from 'ioredis';
import { PARTITION_PATTERN, isPartitionKey } from '@temps/streams';

/** Every day partition in Redis, oldest first (SCAN, so Redis is never blocked; foreign keys left out). */
export async function scanPartitions(redis: Redis): Promise<string[]> {
  const keys = new Set<string>();
  for await (const batch of redis.scanStream({ match: PARTITION_PATTERN, count: 1000 })) {
    for (const key of batch as string[]) if (isPartitionKey(key)) keys.add(key);
  }
  return [...keys].sort();
}
