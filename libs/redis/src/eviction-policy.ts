import { masterNodes, type RedisClient } from './redis-client';

/**
 * The start-up warning when Redis may evict the services' state: under an `allkeys-*`
 * `maxmemory-policy`, a full Redis evicts any key, the state hashes (`producer_state`,
 * `aggregating_consumer_state`, `averages_consumer_state`) included, which have no expiry and so are
 * safe under `volatile-*` policies and `noeviction`. Null when the policy cannot evict them, or
 * cannot be read (CONFIG refused by an ACL or a managed Redis). On a cluster, the first master that
 * answers with an `allkeys-*` policy is named.
 */
export async function evictionWarning(redis: RedisClient): Promise<string | null> {
  let policy: string | undefined;
  try {
    const policies = await Promise.all(
      masterNodes(redis).map(
        async (node) => ((await node.config('GET', 'maxmemory-policy')) as string[])[1],
      ),
    );
    policy = policies.find((p) => p?.startsWith('allkeys-')) ?? policies[0];
  } catch {
    return null;
  }
  if (!policy?.startsWith('allkeys-')) return null;
  return `Redis maxmemory-policy is ${policy}: once Redis is full it may evict the services' state (producer_state, aggregating_consumer_state, averages_consumer_state), which then disappears; use volatile-ttl.`;
}
