import { slotOf } from '@temps/streams';
import { Redis } from 'ioredis';
import type { ClusterNode, RedisCluster } from './redis-cluster';

/** A fault injected into a running cluster, and what it took. */
export interface ClusterFault {
  kind: 'SIGKILL master' | 'CLUSTER FAILOVER' | 'reshard' | 'SIGSTOP replica';
  /** Which node (or `from → to`), for a failure message. */
  node: string;
  /** ms until writes to the node's slots were served again (promotion, failover), else 0. */
  tookMs: number;
}

/** The master serving lane `tag`'s slot now. */
export function ownerOfLane(cluster: RedisCluster, tag: string): Promise<ClusterNode> {
  return cluster.ownerOf(slotOf(tag));
}

/**
 * SIGKILLs the master serving `tag`'s lane, waits for its replica's promotion, then starts the dead
 * node again (it rejoins as a replica) and waits until every master has a replica in sync.
 */
export async function killMaster(cluster: RedisCluster, tag: string): Promise<ClusterFault> {
  const master = await ownerOfLane(cluster, tag);
  await cluster.kill(master);
  const tookMs = await cluster.waitForPromotion(master);
  await cluster.restart(master);
  await cluster.waitHealthy();
  return { kind: 'SIGKILL master', node: master.address, tookMs };
}

/** A graceful CLUSTER FAILOVER of the master serving `tag`'s lane, by its replica. */
export async function failOver(cluster: RedisCluster, tag: string): Promise<ClusterFault> {
  const master = await ownerOfLane(cluster, tag);
  const replica = await cluster.replicaOf(master);
  if (!replica) throw new Error(`${master.address} has no replica to fail over to`);
  const tookMs = await cluster.failover(replica);
  await cluster.waitHealthy();
  return { kind: 'CLUSTER FAILOVER', node: replica.address, tookMs };
}

/**
 * Moves the slots up to and including lane `tag`'s (with their keys) from the master serving it to
 * another master, while the services keep writing and reading: MOVED and ASK on the way.
 */
export async function reshardLane(cluster: RedisCluster, tag: string): Promise<ClusterFault> {
  const from = await ownerOfLane(cluster, tag);
  const to = (await cluster.masters()).find((m) => m.address !== from.address)!;
  const before = await countSlotsUpTo(cluster, from, slotOf(tag));
  await cluster.reshard(from, to, before);
  return { kind: 'reshard', node: `${from.address} → ${to.address} (${before} slots)`, tookMs: 0 };
}

/** SIGSTOPs the replica of the master serving `tag`'s lane for `ms`, then SIGCONTs it. */
export async function pauseReplica(
  cluster: RedisCluster,
  tag: string,
  ms = 2_000,
): Promise<ClusterFault> {
  const master = await ownerOfLane(cluster, tag);
  const replica = await cluster.replicaOf(master);
  if (!replica) throw new Error(`${master.address} has no replica to pause`);
  cluster.pause(replica);
  await new Promise((resolve) => setTimeout(resolve, ms));
  cluster.resume(replica);
  await cluster.waitHealthy();
  return { kind: 'SIGSTOP replica', node: replica.address, tookMs: 0 };
}

/**
 * How many of `master`'s slots are at or below `slot`: `redis-cli --cluster reshard` moves a
 * master's lowest slots first, so moving that many moves `slot`.
 */
async function countSlotsUpTo(
  _cluster: RedisCluster,
  master: ClusterNode,
  slot: number,
): Promise<number> {
  const admin = new Redis(master.url, { lazyConnect: true, retryStrategy: () => null });
  try {
    await admin.connect();
    const ranges = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    return ranges
      .filter(([, , [host, port]]) => `${host}:${port}` === master.address)
      .reduce((sum, [start, end]) => sum + Math.max(0, Math.min(end, slot) - start + 1), 0);
  } finally {
    admin.disconnect();
  }
}
