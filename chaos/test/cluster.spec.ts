import {
  AveragesRecorder,
  ServiceProcess,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  failOver,
  freePort,
  killMaster,
  pauseReplica,
  recordRow,
  reshardLane,
  startRedisCluster,
  type ClusterFault,
  type RedisCluster,
  type SimulatedRun,
} from '@temps/testing';
import { LANES_AVERAGES_READER_STATE_KEY, LaneStateHash, laneLayout } from '@temps/streams';
import { Cluster } from 'ioredis';
import { FULL, JAN_1_2025, pause, producerArgs } from './support/pipeline';

// Two producers over 6 lanes of 50 devices on a private 3 masters + 3 replicas cluster, with
// REDIS_WAIT_REPLICAS=1, while masters are killed, failed over, resharded and their replicas
// paused, in random order, until the run is written (at full speed: paced, a day's partition would
// expire before a slow run ends): 8.6 M readings (short) or 17.3 M (full).
const DAYS = FULL ? 4 : 2;
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: DAYS, devices: 50, shards: 6, seed: 2_026 };
const LANES = laneLayout(6, 50);
const END = String(JAN_1_2025 + DAYS * 86_400_000);
const ENV = { PRODUCER_SHARDS: '6', REDIS_WAIT_REPLICAS: '1' };

describe('a Redis Cluster failing over, resharding and stalling under the lanes', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  let recorder: AveragesRecorder | null = null;
  const running = new Set<ServiceProcess>();
  const crashes: string[] = [];
  const start = (service: string, args: string[], env: NodeJS.ProcessEnv) => {
    const seeds = cluster.nodes.map((node) => node.address).join(',');
    const child = new ServiceProcess(service, args, {
      REDIS_URL: cluster.url,
      REDIS_CLUSTER_NODES: seeds,
      ...ENV,
      ...env,
    });
    running.add(child);
    void child.exited.then((finished) => {
      running.delete(child);
      if (finished.code !== 0 && finished.signal !== 'SIGTERM' && finished.signal !== 'SIGKILL') {
        crashes.push(`${service} (code ${finished.code}):\n${finished.stderr.slice(-2_000)}`);
      }
    });
    return child;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const { hostname, port } = new URL(cluster.url);
    client = new Cluster([{ host: hostname, port: Number(port) }]);
  });
  afterAll(async () => {
    await Promise.all([...running].map((child) => child.kill('SIGKILL')));
    await recorder?.stop();
    client?.disconnect();
    await cluster?.stop();
  });

  it('every reading and every hour once, whatever the cluster goes through', async () => {
    recorder = new AveragesRecorder(cluster.url, { cluster: true });
    start('aggregator', [], { PORT: String(await freePort()), AGGREGATOR_FROM_OLDEST: 'true' });
    start('averages', [], { PORT: String(await freePort()) });
    const producers = [0, 1].map(() => start('producer', producerArgs(RUN), {}));

    const complete = async () =>
      (
        await Promise.all(
          LANES.map((lane) =>
            client.hmget(
              LaneStateHash.keyOf(lane.tag),
              LaneStateHash.FIELDS.watermarkMs,
              LaneStateHash.FIELDS.confirmedMs,
            ),
          ),
        )
      ).every(([watermark, confirmed]) => watermark === END && confirmed === END);

    await Promise.all(producers.map((p) => p.waitFor(/Holding lanes/, 60_000)));
    const faults: ClusterFault[] = [];
    const kinds = [killMaster, failOver, reshardLane, pauseReplica];
    while (!(await complete()) && producers.some((p) => p.running)) {
      await pause(500, 2_000);
      const lane = LANES[Math.floor(Math.random() * LANES.length)].tag;
      faults.push(await kinds[Math.floor(Math.random() * kinds.length)](cluster, lane));
    }
    await Promise.all(producers.map((p) => p.exited));
    await eventually(complete, 60_000);
    const readings = await checkPartitions(client, RUN);
    const hours = expectedHours(RUN);
    await recorder.waitFor(`${JAN_1_2025 + DAYS * 86_400_000 - 3_600_000}-0`, 180_000);
    await eventually(
      async () =>
        (await client.hget(LANES_AVERAGES_READER_STATE_KEY, 'last_seq')) === String(hours.size),
      60_000,
    );
    const seen = recorder.seen;
    await recorder.stop();
    recorder = null;

    const problems: string[] = [];
    const averages = checkAverages(seen, hours, {}, problems);
    const counts = new Map<string, number>();
    faults.forEach((f) => counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1));
    const fault = [...counts]
      .sort()
      .map(([kind, n]) => `cluster: ${kind} ×${n}`)
      .join(', ');
    recordRow({ fault, injected: faults.length, checkedIn: 'partitions', ...readings });
    recordRow({ fault, injected: faults.length, checkedIn: 'temps:averages', ...averages });
    const promotions = faults.filter((f) => f.tookMs > 0).map((f) => `${f.kind} ${f.tookMs} ms`);
    process.stdout.write(`chaos cluster: ${fault}; served again after: ${promotions.join(', ')}\n`);

    expect(crashes).toEqual([]);
    expect(readings).toEqual({ checked: DAYS * 4_320_000, lost: 0, doubled: 0, wrong: 0 });
    expect(problems).toEqual([]);
    expect(averages).toEqual({ checked: DAYS * 24, lost: 0, doubled: 0, wrong: 0 });
    // No hour published short: a partition moving between masters is never taken as gone.
    expect(seen.filter((a) => a.fields.partial !== undefined).map((a) => a.id)).toEqual([]);
    expect(new Set(seen.map((a) => a.fields.num_observations))).toEqual(new Set(['180000']));
  });
});
