import { startPrivateRedis, startRedisCluster, type RedisCluster } from '@temps/testing';
import { lanePartitionPattern, laneLayout, partitionKeyFor, slotOf } from '@temps/streams';
import { Cluster, Redis } from 'ioredis';
import {
  CLUSTER_NEEDS_LANES,
  RedisConfigError,
  SlotWaker,
  connectRedis,
  isCluster,
  masterNodes,
  masterOf,
  nodeAddress,
  scanPartitions,
  type RedisClient,
} from '../src';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

describe('a Redis Cluster, connected to as to one node', () => {
  let cluster: RedisCluster;
  const clients: RedisClient[] = [];
  const connect = async (
    url: string,
    more: Parameters<typeof connectRedis>[1] = { connectionName: 't' },
  ) => {
    const client = await connectRedis(url, more);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await cluster?.stop();
  });

  it('takes any node (and REDIS_CLUSTER_NODES seeds) for the cluster client, which follows every slot', async () => {
    for (const node of cluster.nodes) {
      const client = await connect(node.url);
      expect(isCluster(client)).toBe(true);
      expect(masterNodes(client)).toHaveLength(3);
    }
    // REDIS_URL's node down: the first seed that answers stands in for it.
    const viaSeeds = await connect('redis://127.0.0.1:1', {
      connectionName: 't',
      clusterNodes: ['127.0.0.1:2', ...cluster.nodes.map((n) => n.address)],
    });
    expect(isCluster(viaSeeds)).toBe(true);
    await expect(
      connect('redis://127.0.0.1:1', { connectionName: 't', clusterNodes: ['127.0.0.1:2'] }),
    ).rejects.toThrow('Cannot use Redis at redis://127.0.0.1:1');
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}{${i}}`);
    await Promise.all(keys.map((key) => viaSeeds.set(key, key)));
    expect(await Promise.all(keys.map((key) => viaSeeds.get(key)))).toEqual(keys);
  });

  it('refuses a database number other than 0, and a service that cannot run on a cluster, writing nothing', async () => {
    await expect(connect(`${cluster.url}/2`)).rejects.toThrow(
      new RedisConfigError(
        `REDIS_URL names database 2, but ${cluster.url}/2 is a Redis Cluster node, which has database 0 only`,
      ),
    );
    await expect(
      connect(cluster.url, { connectionName: 't', clusterRefusal: CLUSTER_NEEDS_LANES }),
    ).rejects.toThrow(`${cluster.url} is a Redis Cluster node: ${CLUSTER_NEEDS_LANES}`);
    // Database 0 named outright is the cluster's only one: accepted.
    expect(isCluster(await connect(`${cluster.url}/0`))).toBe(true);
  });

  it('one node stays one node, database and all', async () => {
    const single = await startPrivateRedis();
    try {
      const client = await connect(`${single.url}/3`);
      expect(isCluster(client)).toBe(false);
      await client.set('here', '1');
      const admin = new Redis(`${single.url}/3`);
      expect(await admin.get('here')).toBe('1');
      admin.disconnect();
      expect(masterOf(client, 123)).toBe(client);
    } finally {
      await single.stop();
    }
  });

  it('finds every lane partition on every master (one SCAN each), and names the master of a slot', async () => {
    const client = await connect(cluster.url);
    const lanes = laneLayout(6, 6);
    const keys = lanes.map((lane) => partitionKeyFor(JAN_1_2025, lane.tag));
    await Promise.all(keys.map((key) => client.xadd(key, '1-1', 'temp_f', '1')));
    await client.set(partitionKeyFor(JAN_1_2025 + 86_400_000, lanes[0].tag), 'not a stream');
    expect(await scanPartitions(client, '*')).toEqual([...keys].sort());
    expect(await scanPartitions(client, lanes[3].tag)).toEqual([keys[3]]);
    expect(lanePartitionPattern(lanes[3].tag)).toContain(lanes[3].tag);
    for (const lane of lanes) {
      const owner = await cluster.ownerOf(slotOf(lane.tag));
      expect(nodeAddress(masterOf(client, slotOf(lane.tag))!)).toBe(owner.address);
    }
  });

  it('SlotWaker wakes on an entry in any of several slots, and times out when none comes', async () => {
    const client = (await connect(cluster.url)) as Cluster;
    const waker = new SlotWaker(client, 500);
    try {
      const streams = ['w:{a}', 'w:{b}', 'w:{c}'];
      expect(new Set(streams.map(slotOf)).size).toBe(3);
      const cursor = streams.map((s): [string, string] => [s, '0']);
      let started = Date.now();
      await waker.wait(cursor);
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);

      started = Date.now();
      const woken = waker.wait(cursor);
      setTimeout(() => void client.xadd('w:{c}', '*', 'f', 'v'), 100);
      await woken;
      expect(Date.now() - started).toBeLessThan(450);
    } finally {
      waker.close();
    }
  });
});
