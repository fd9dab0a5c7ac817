import {
  PARTITION_PATTERN,
  isPartitionKey,
  lanePartitionPattern,
  partitionTag,
} from '@temps/streams';
import { masterNodes, type RedisClient } from './redis-client';

/**
 * Each key's type (`stream`, `hash`, …, or `none`). Sent together, one command a key, so the keys
 * may live in different slots of a cluster.
 */
export async function keyTypes(redis: RedisClient, keys: readonly string[]): Promise<string[]> {
  return Promise.all(keys.map((key) => redis.type(key)));
}

/**
 * Keys matching `match` of type `type`, from every master of a cluster (SCAN answers for one node)
 * or from the one node. SCAN, so Redis is never blocked. On a cluster the masters are scanned twice,
 * the second time in the opposite order: a key a reshard moves from one master to another between
 * their two SCANs is missed by one pass but found by the other. A key may be listed twice: callers
 * keep a set.
 */
export async function scanKeys(redis: RedisClient, match: string, type: string): Promise<string[]> {
  const nodes = masterNodes(redis);
  const order = nodes.length > 1 ? [...nodes, ...[...nodes].reverse()] : nodes;
  const keys: string[] = [];
  for (const node of order) {
    for await (const batch of node.scanStream({ match, type, count: 1000 })) {
      keys.push(...(batch as string[]));
    }
  }
  return keys;
}

/**
 * Day partitions in Redis, oldest first: of the exercise's layout (`temps:YYYYMMDD`, lane null, the
 * default), of one lane (its tag), or of every layout and lane ('*'). Foreign keys are left out:
 * names that are not a day (temps:garbage, temps:20251399) and keys that are not streams.
 */
export async function scanPartitions(
  redis: RedisClient,
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
    for (const key of await scanKeys(redis, match, 'stream')) {
      if (isPartitionKey(key) && (lane === '*' || partitionTag(key) === lane)) keys.add(key);
    }
  }
  return [...keys].sort();
}
