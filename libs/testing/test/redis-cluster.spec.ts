// Starts a real Redis Cluster of 6 redis-server processes: each step builds on the one before.
import type * as ChildProcesses from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { startRedisCluster, type ClusterNode, type RedisCluster } from '../src/redis-cluster';

const KEY = 'reading:{sensor-7}';
/** Slots moved by the reshard step: the lowest ones of the master owning slot 0. */
const MOVED = 40;

describe('a private Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  let slot: number;

  // Kept so that afterAll stops the cluster even if beforeAll timed out while it was starting.
  let starting: Promise<RedisCluster> | undefined;

  beforeAll(async () => {
    starting = startRedisCluster();
    cluster = await starting;
    // eslint-disable-next-line no-console
    console.log(`Redis Cluster of 3 masters and 3 replicas started in ${cluster.startedInMs} ms`);
    client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }]);
    slot = Number(await plain(cluster.nodes[0], (redis) => redis.call('CLUSTER', 'KEYSLOT', KEY)));
  }, 45_000);

  afterAll(async () => {
    client?.disconnect();
    // A start fails within its 40 s budget, having stopped what it started.
    await starting?.then(
      (started) => started.stop(),
      () => undefined,
    );
  }, 45_000);

  it('is healthy with 3 masters, each with its own replica, on ports of its own', async () => {
    await cluster.waitHealthy(5_000);
    const masters = await cluster.masters();
    const replicas = await cluster.replicas();
    expect(masters).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    const followers = await Promise.all(masters.map((master) => cluster.replicaOf(master)));
    expect(new Set(followers).size).toBe(3);
    expect(followers.every((replica) => replica && replicas.includes(replica))).toBe(true);
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.url).toBe(cluster.nodes[0].url);
    for (const node of cluster.nodes) {
      expect(node.port).not.toBe(6379);
      expect(node.port).toBeLessThan(55_536);
      expect(node.address).toBe(`127.0.0.1:${node.port}`);
    }
    expect(masters).toContain(await cluster.ownerOf(0));
    expect(masters).toContain(await cluster.ownerOf(16_383));
    expect(cluster.startedInMs).toBeGreaterThan(0);
  });

  it('serves a key written through a cluster client', async () => {
    await client.set(KEY, '21.5');
    expect(await client.get(KEY)).toBe('21.5');
    const owner = await cluster.ownerOf(slot);
    expect(await plain(owner, (redis) => redis.get(KEY))).toBe('21.5');
  });

  it("promotes a killed master's replica, which serves its slots and keeps the key", async () => {
    const victim = await cluster.ownerOf(slot);
    const heir = await cluster.replicaOf(victim);
    // Replication is asynchronous: healthy means the replica has caught up with the write.
    await cluster.waitHealthy(5_000);
    await cluster.kill(victim);
    const waited = await cluster.waitForPromotion(victim, 15_000);
    expect(waited).toBeGreaterThan(1_000);
    expect(await cluster.ownerOf(slot)).toBe(heir);
    expect(await cluster.masters()).not.toContain(victim);
    expect(await cluster.masters()).toHaveLength(3);
    expect(await client.get(KEY)).toBe('21.5');
  }, 25_000);

  it('restarts the killed node as a replica of the promoted one', async () => {
    const heir = await cluster.ownerOf(slot);
    const down = await downNodes();
    expect(down).toHaveLength(1);
    await cluster.restart(down[0]);
    expect(await cluster.replicaOf(heir)).toBe(down[0]);
    expect(await cluster.replicas()).toContain(down[0]);
    await cluster.waitHealthy(15_000);
    expect(await client.get(KEY)).toBe('21.5');
  }, 25_000);

  it('fails over gracefully to a replica, which becomes master of its slots', async () => {
    const master = await cluster.ownerOf(slot);
    const replica = (await cluster.replicaOf(master))!;
    const took = await cluster.failover(replica);
    expect(took).toBeLessThan(5_000);
    expect(await cluster.ownerOf(slot)).toBe(replica);
    expect(await cluster.masters()).toContain(replica);
    expect(await cluster.replicaOf(replica)).toBe(master);
    await cluster.waitHealthy(10_000);
    expect(await client.get(KEY)).toBe('21.5');
    await expect(cluster.failover(replica)).rejects.toThrow('is not a replica');
  }, 20_000);

  it('reshards slots with their keys while a client keeps writing', async () => {
    const from = await cluster.ownerOf(0);
    const to = (await cluster.masters()).find((master) => master !== from)!;
    const keys = await keysInSlotsBelow(MOVED, 6);
    await Promise.all(keys.map((key) => client.set(key, `before ${key}`)));

    // A writer on the moving slots: every write must land, redirected by ASK and MOVED.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        await client.set(keys[writes % keys.length], `write ${writes}`);
        writes++;
      }
    })();
    await cluster.reshard(from, to, MOVED);
    writing = false;
    await writer;

    expect(writes).toBeGreaterThan(0);
    expect(await cluster.ownerOf(0)).toBe(to);
    expect(await cluster.ownerOf(MOVED - 1)).toBe(to);
    expect(await cluster.ownerOf(MOVED)).toBe(from);
    const last = new Map<string, string>(keys.map((key) => [key, `before ${key}`]));
    for (let write = 0; write < writes; write++)
      last.set(keys[write % keys.length], `write ${write}`);
    for (const key of keys) expect(await client.get(key)).toBe(last.get(key));
    // The keys live on the new owner now, not merely behind a redirection.
    for (const key of keys) expect(await plain(to, (redis) => redis.exists(key))).toBe(1);
    await cluster.waitHealthy(10_000);
  }, 20_000);

  it('pauses a master until its replica takes over, and resumes it as a replica', async () => {
    // Not the key's master: masters refuse a second vote for the same master's replicas within
    // 2 × node timeout, and that one's replicas were elected a few seconds ago.
    const keyOwner = await cluster.ownerOf(slot);
    const master = (await cluster.masters()).find((candidate) => candidate !== keyOwner)!;
    const replica = (await cluster.replicaOf(master))!;
    const itsSlot = await slotOf(master);
    cluster.pause(master);
    await expect(
      plain(master, (redis) => redis.ping(), { commandTimeout: 300, enableReadyCheck: false }),
    ).rejects.toThrow();
    await cluster.waitForPromotion(master, 15_000);
    expect(await cluster.ownerOf(itsSlot)).toBe(replica);
    expect(await cluster.masters()).not.toContain(master);
    cluster.resume(master);
    // The thawed node first sees every peer silent for longer than the node timeout and says
    // cluster_state:fail until their gossip reaches it (a few seconds; 15 s was once too short
    // with two integration targets and their clusters on two cores).
    await cluster.waitHealthy(30_000);
    expect(await cluster.replicaOf(replica)).toBe(master);
    expect(await client.get(KEY)).toBe('21.5');
  }, 45_000);

  /** A slot `master` owns, found by probing the first slot of each third. */
  async function slotOf(master: ClusterNode): Promise<number> {
    for (const probe of [0, 5_461, 10_923, 16_383])
      if ((await cluster.ownerOf(probe)) === master) return probe;
    throw new Error(`${master.address} owns none of the probed slots`);
  }

  /** Nodes whose process is down: those that no role list gives. */
  async function downNodes(): Promise<ClusterNode[]> {
    const up = [...(await cluster.masters()), ...(await cluster.replicas())];
    return cluster.nodes.filter((node) => !up.includes(node));
  }

  /** `count` keys whose slots are below `slots`, found by asking a node (CLUSTER KEYSLOT). */
  async function keysInSlotsBelow(slots: number, count: number): Promise<string[]> {
    return plain(cluster.nodes[0], async (redis) => {
      const found: string[] = [];
      for (let batch = 0; found.length < count; batch++) {
        const candidates = Array.from({ length: 2_000 }, (_, i) => `moved:${batch * 2_000 + i}`);
        const pipeline = redis.pipeline();
        candidates.forEach((key) => pipeline.call('CLUSTER', 'KEYSLOT', key));
        const results = (await pipeline.exec()) ?? [];
        results.forEach(([, keySlot], i) => {
          if (Number(keySlot) < slots) found.push(candidates[i]);
        });
      }
      return found.slice(0, count);
    });
  }
});

/** A plain connection to one node, closed afterwards. */
async function plain<T>(
  node: ClusterNode,
  use: (redis: Redis) => Promise<T>,
  options: { commandTimeout?: number; enableReadyCheck?: boolean } = {},
): Promise<T> {
  const redis = new Redis(node.url, {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...options,
  });
  redis.on('error', () => undefined);
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

describe('a Redis Cluster without redis-server', () => {
  it('is a RedisServerMissingError at once, not a skip', async () => {
    // The module as it is, but with a spawn that finds no redis-server (PATH is the test
    // process's own: changing it inside jest does not reach node:child_process).
    let start!: typeof startRedisCluster;
    jest.isolateModules(() => {
      jest.doMock('node:child_process', () => {
        const real = jest.requireActual<typeof ChildProcesses>('node:child_process');
        return {
          ...real,
          spawn: (_: string, args: string[], options: SpawnOptions) =>
            real.spawn('/nonexistent/redis-server', args, options),
        };
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const isolated: typeof import('../src/redis-cluster') = require('../src/redis-cluster');
      start = isolated.startRedisCluster;
    });
    const began = Date.now();
    // A cluster that started anyway is stopped, not left running.
    const outcome = await start().then(
      (started) => started.stop().then(() => 'started'),
      (error: Error) => error,
    );
    expect(outcome).toMatchObject({
      name: 'RedisServerMissingError',
      message: expect.stringContaining("install Debian's redis-server"),
    });
    expect(Date.now() - began).toBeLessThan(2_000);
  });
});
