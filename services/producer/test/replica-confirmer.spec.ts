import { connectRedis, type RedisClient } from '@temps/redis';
import { LaneStateHash, ReadingGenerator, laneLayout, partitionKeyFor } from '@temps/streams';
import { eventually, startRedisCluster, type RedisCluster } from '@temps/testing';
import { Registry } from 'prom-client';
import { LanesRepository } from '../src/lanes.repository';
import { ProducerMetrics } from '../src/producer.metrics';
import { ReplicaConfirmer } from '../src/replica-confirmer';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

describe('ReplicaConfirmer on a master with one replica', () => {
  let cluster: RedisCluster;
  let redis: RedisClient;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 1, replicas: 1 });
    redis = await connectRedis(cluster.url, { connectionName: 'confirmer-test' });
  });
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  it('moves a lane’s confirmed mark only over what the replica holds, and catches up when it thaws', async () => {
    const lanes = new LanesRepository(redis);
    const registry = new Registry();
    const metrics = new ProducerMetrics(registry);
    const [lane] = laneLayout(1, 2);
    const run = {
      runId: 'r',
      startMs: JAN_1_2025,
      endMs: JAN_1_2025 + 86_400_000,
      intervalMs: 1_000,
      devices: 2,
      seed: 1,
      rate: 1,
      paced: false,
      realStartMs: Date.now(),
    };
    const first = ReadingGenerator.seeded(1, 2).state();
    const mark = async () =>
      Number(await redis.hget(LaneStateHash.keyOf(lane.tag), LaneStateHash.FIELDS.confirmedMs));
    const write = (firstMs: number) =>
      lanes.writeLaneBatch(run, lane, '1', 'me', {
        partition: partitionKeyFor(firstMs, lane.tag),
        firstMs,
        temps: [70, 71, 72, 73],
        expireAtMs: Date.now() + 60_000,
        watermarkMs: firstMs + 2_000,
        generator: first,
      });
    const lag = async () =>
      (await registry.getSingleMetric('temps_producer_unconfirmed_seconds')!.get()).values.find(
        (v) => v.labels.lane === lane.tag,
      )?.value;
    /** The master's series (undefined: none yet). */
    const shortfalls = async () =>
      (
        await registry.getSingleMetric('temps_producer_replica_shortfalls_total')!.get()
      ).values.find((v) => v.labels.node === lanes.nodeOf(lane.tag))?.value;

    await lanes.claimLane(run, lane, '1', first, 'me', true, async () => []);
    const confirmer = new ReplicaConfirmer(lanes, metrics, 1);
    try {
      await confirmer.started(lane, '1', JAN_1_2025);
      expect(await mark()).toBe(JAN_1_2025);
      await write(JAN_1_2025);
      confirmer.written(lane, '1', JAN_1_2025 + 2_000);
      await eventually(async () => (await mark()) === JAN_1_2025 + 2_000, 10_000);
      // The master's series is there at 0 from its first round (a first short round then shows).
      expect(lanes.nodeOf(lane.tag)).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await shortfalls()).toBe(0);

      // The replica stalls: the master takes the batch, WAIT falls short, the mark stays.
      const replica = (await cluster.replicas())[0];
      cluster.pause(replica);
      try {
        await write(JAN_1_2025 + 2_000);
        confirmer.written(lane, '1', JAN_1_2025 + 4_000);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        expect(await mark()).toBe(JAN_1_2025 + 2_000);
        expect(await lag()).toBe(2);
        // Each short round is counted against the master (the alert TempsReplicasNotConfirming).
        expect(await shortfalls()).toBeGreaterThanOrEqual(2);
      } finally {
        cluster.resume(replica);
      }
      await eventually(async () => (await mark()) === JAN_1_2025 + 4_000, 10_000);
      await eventually(async () => (await lag()) === 0, 10_000);
      // Confirmed again: no more short rounds.
      const counted = await shortfalls();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await shortfalls()).toBe(counted);
    } finally {
      await confirmer.close();
    }
  });
});
