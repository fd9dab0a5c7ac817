import type { Redis } from 'ioredis';

/**
 * The start-up warning when Redis may evict the services' state: under an `allkeys-*`
 * `maxmemory-policy`, a full Redis evicts any key, the state hashes (`producer_state`,
 * `aggregating_consumer_state`, `averages_consumer_state`) included, which have no expiry and so are
 * safe under `volatile-*` policies and `noeviction`. Null when the policy cannot evict them, or
 * cannot be read (CONFIG refused by an ACL or a managed Redis).
 */
export async function evictionWarning(redis: Redis): Promise<string | null> {
  let policy: string | undefined;
  try {
    policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1];
  } catch {
    return null;
  }
  if (!policy?.startsWith('allkeys-')) return null;
  return `Redis maxmemory-policy is ${policy}: once Redis is full it may evict the services' state (producer_state, aggregating_consumer_state, averages_consumer_state), which then disappears; use volatile-ttl.`;
}
