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
  ownerOfLane,
  pauseReplica,
  reshardLane,
  startRedisCluster,
  type ClusterFault,
  type RedisCluster,
  type SimulatedRun,
} from '@temps/testing';
import { LANES_AVERAGES_READER_STATE_KEY, LaneStateHash, laneLayout } from '@temps/streams';
import { Cluster, Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 1, devices: 50, shards: 6, seed: 1_818 };
const LANES = laneLayout(RUN.shards!, RUN.devices);
const DAY_END = String(JAN_1_2025 + 86_400_000);
const ARGS = ['--start', '2025-01-01', '--days', '1', '--devices', '50', '--seed', '1818'];
const say = (line: string) => process.stdout.write(`e2e cluster: ${line}\n`);

/**
 * The lanes on a private Redis Cluster of 3 masters and 3 replicas (Debian's redis-server): two
 * producers, the aggregator and the averages reader run through a master's SIGKILL, a graceful
 * failover, a reshard while writing and a paused replica, and every reading and every hour is
 * there exactly once.
 */
// Each story runs a day of 50 devices through the real processes and a cluster of six servers on
// two cores: minutes, not seconds.
jest.setTimeout(600_000);

describe('lanes on a Redis Cluster (3 masters + 3 replicas), end to end', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  let recorder: AveragesRecorder | null = null;
  const running = new Set<ServiceProcess>();
  const start = (service: string, args: string[], env: NodeJS.ProcessEnv) => {
    // Every node as a seed, as a user would: a service starting while REDIS_URL's node is down
    // starts from another.
    const seeds = cluster.nodes.map((node) => node.address).join(',');
    const child = new ServiceProcess(service, args, {
      REDIS_URL: cluster.url,
      REDIS_CLUSTER_NODES: seeds,
      ...env,
    });
    running.add(child);
    void child.exited.then(() => running.delete(child));
    return child;
  };
  const flush = async () => {
    for (const master of await cluster.masters()) {
      const admin = new Redis(master.url);
      await admin.flushall();
      admin.disconnect();
    }
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
    say(`3 masters + 3 replicas ready in ${cluster.startedInMs} ms`);
    const { hostname, port } = new URL(cluster.url);
    client = new Cluster([{ host: hostname, port: Number(port) }]);
  });
  afterAll(async () => {
    await Promise.all([...running].map((child) => child.kill('SIGKILL')));
    await recorder?.stop();
    client?.disconnect();
    await cluster?.stop();
  });

  it('refuses the exercise layout and a database number in one line, writing nothing', async () => {
    for (const service of ['producer', 'aggregator', 'averages']) {
      const refused = await start(service, service === 'producer' ? ARGS : [], {}).exited;
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(`^${service}: .* is a Redis Cluster node: the exercise's layout`),
        ),
      ]);
    }
    const database = await start('producer', ARGS, {
      REDIS_URL: `${cluster.url}/3`,
      PRODUCER_SHARDS: '6',
    }).exited;
    expect(database.code).toBe(1);
    expect(database.stderr).toContain('REDIS_URL names database 3');
    expect(await client.dbsize()).toBe(0);
    for (const master of await cluster.masters()) {
      const admin = new Redis(master.url);
      expect(await admin.dbsize()).toBe(0);
      admin.disconnect();
    }
  });

  it('2 producers × 50 devices × 1 day over 6 lanes, through a master killed, a failover, a reshard and a paused replica: every reading and every hour once', async () => {
    await flush();
    // Two lanes per master, from the tags alone.
    const owners = await Promise.all(LANES.map((lane) => ownerOfLane(cluster, lane.tag)));
    const perMaster = new Map<string, number>();
    owners.forEach((o) => perMaster.set(o.address, (perMaster.get(o.address) ?? 0) + 1));
    expect([...perMaster.values()]).toEqual([2, 2, 2]);

    const env = { PRODUCER_SHARDS: '6', REDIS_WAIT_REPLICAS: '1' };
    recorder = new AveragesRecorder(cluster.url, { cluster: true });
    const aggregator = start('aggregator', [], {
      ...env,
      PORT: String(await freePort()),
      AGGREGATOR_FROM_OLDEST: 'true',
    });
    const reader = start('averages', [], { ...env, PORT: String(await freePort()) });
    // At full speed the day takes about 30 s here, long enough for the faults (about 12 s) to land
    // mid-run; paced, a day's partition would expire (two simulated days) before a slow run ends.
    const producing = ['a', 'b'].map(() => start('producer', [...ARGS, '--resume'], env));

    const faults: ClusterFault[] = [];
    await Promise.all(producing.map((p) => p.waitFor(/Holding lanes/, 60_000)));
    faults.push(await killMaster(cluster, LANES[0].tag));
    faults.push(await failOver(cluster, LANES[2].tag));
    faults.push(await reshardLane(cluster, LANES[4].tag));
    faults.push(await pauseReplica(cluster, LANES[1].tag, 2_000));
    faults.forEach((f) =>
      say(`${f.kind} ${f.node}${f.tookMs ? `: served again after ${f.tookMs} ms` : ''}`),
    );

    const began = Date.now();
    const finished = await Promise.all(producing.map((p) => p.exited));
    expect(finished.map((f) => (f.code === 0 ? 'ok' : f.stderr.slice(-2_000)))).toEqual([
      'ok',
      'ok',
    ]);
    // Every lane complete and confirmed by a replica.
    for (const lane of LANES) {
      const [watermark, confirmed] = await client.hmget(
        LaneStateHash.keyOf(lane.tag),
        LaneStateHash.FIELDS.watermarkMs,
        LaneStateHash.FIELDS.confirmedMs,
      );
      expect([watermark, confirmed]).toEqual([DAY_END, DAY_END]);
    }
    const readings = await checkPartitions(client, RUN);
    say(`producers done ${Math.round((Date.now() - began) / 1000)} s after the faults`);
    await recorder.waitFor(`${JAN_1_2025 + 23 * 3_600_000}-0`, 120_000);
    say(`last hour published ${Math.round((Date.now() - began) / 1000)} s after the faults`);
    await eventually(
      async () => (await client.hget(LANES_AVERAGES_READER_STATE_KEY, 'last_seq')) === '24',
      60_000,
    );
    const seen = recorder.seen;
    await recorder.stop();
    recorder = null;

    const problems: string[] = [];
    const averages = checkAverages(seen, expectedHours(RUN), {}, problems);
    if (problems.length > 0) {
      // What the aggregator and the producers said, for the failure message.
      const said = (child: ServiceProcess) =>
        (child.stdout + child.stderr)
          .split('\n')
          .filter((line) => !/Average temperature|Waiting for|Populating/.test(line))
          .slice(-40)
          .join('\n');
      problems.push([aggregator, ...producing].map(said).join('\n---\n'));
    }
    expect(readings).toEqual({ checked: 4_320_000, lost: 0, doubled: 0, wrong: 0 });
    expect(problems).toEqual([]);
    expect(averages).toEqual({ checked: 24, lost: 0, doubled: 0, wrong: 0 });
    // No hour published short: a partition moving between masters is never taken as gone.
    expect(seen.filter((a) => a.fields.partial !== undefined).map((a) => a.id)).toEqual([]);
    expect(new Set(seen.map((a) => a.fields.num_observations))).toEqual(new Set(['180000']));
    const printed = reader.stdout.match(/^Average temperature for .*$/gm) ?? [];
    expect(new Set(printed).size).toBe(24);
    expect(printed).toHaveLength(24);
    // Redirections and failovers are followed, never reported as errors.
    for (const child of [aggregator, reader, ...producing]) {
      expect(child.stdout + child.stderr).not.toMatch(/MOVED|ASK |CROSSSLOT|ERROR/);
    }
    expect(aggregator.running && reader.running).toBe(true);
  });

  it.each([
    ['without REDIS_WAIT_REPLICAS', '0'],
    ['with REDIS_WAIT_REPLICAS=1', '1'],
  ])(
    'a master killed while its replica stalled, %s: what the new master lacks, and nothing lost in the end',
    async (mode, waitReplicas) => {
      await cluster.waitHealthy();
      await flush();
      const producer = start('producer', ARGS, {
        PRODUCER_SHARDS: '6',
        REDIS_WAIT_REPLICAS: waitReplicas,
      });
      const lane = LANES[0];
      const state = LaneStateHash.keyOf(lane.tag);
      await eventually(
        async () =>
          Number(await client.hget(state, LaneStateHash.FIELDS.watermarkMs)) >
          JAN_1_2025 + 7_200_000,
        60_000,
        20,
      );
      const master = await ownerOfLane(cluster, lane.tag);
      const replica = (await cluster.replicaOf(master))!;
      cluster.pause(replica);
      // What the master takes meanwhile piles up in its replica's socket buffers (a few MB, read
      // when it thaws) and beyond them: 3 s of writes is more than they hold.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      process.kill(producer.pid, 'SIGSTOP');
      // What the master acknowledged, and how far it confirmed, lane by lane.
      const lanes = [];
      for (const l of LANES) {
        if ((await ownerOfLane(cluster, l.tag)).address !== master.address) continue;
        const [watermark, confirmed] = await client.hmget(
          LaneStateHash.keyOf(l.tag),
          LaneStateHash.FIELDS.watermarkMs,
          LaneStateHash.FIELDS.confirmedMs,
        );
        lanes.push({ lane: l, acknowledged: Number(watermark), confirmed: Number(confirmed ?? 0) });
      }
      await cluster.kill(master);
      cluster.resume(replica);
      const promotedInMs = await cluster.waitForPromotion(master);
      let lost = 0;
      let confirmedLost = 0;
      for (const { lane: l, acknowledged, confirmed } of lanes) {
        const held = Number(
          await client.hget(LaneStateHash.keyOf(l.tag), LaneStateHash.FIELDS.watermarkMs),
        );
        lost += (l.devices * (acknowledged - held)) / 1_000;
        confirmedLost += (l.devices * Math.max(0, confirmed - held)) / 1_000;
      }
      say(
        `${mode}: promoted after ${promotedInMs} ms; the new master lacks ${lost.toLocaleString('en-US')} acknowledged readings, ${confirmedLost} of them confirmed`,
      );
      await cluster.restart(master);
      await cluster.waitHealthy();
      process.kill(producer.pid, 'SIGCONT');
      const finished = await producer.exited;
      expect(finished.code).toBe(0);
      // The producer wrote the lacking readings again from the lane state the replica held.
      const readings = await checkPartitions(client, { ...RUN, seed: 1_818 });
      expect(readings).toEqual({ checked: 4_320_000, lost: 0, doubled: 0, wrong: 0 });
      expect(confirmedLost).toBe(0);
      if (waitReplicas === '1') {
        // The stalled replica held the confirmed mark back: the aggregator could not read further.
        expect(lanes.some(({ acknowledged, confirmed }) => confirmed < acknowledged)).toBe(true);
      }
    },
  );
});
