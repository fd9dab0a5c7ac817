import {
  AveragesRecorder,
  ServiceProcess,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  recordRow,
  startPrivateRedis,
  type Finished,
  type PrivateRedis,
  type SimulatedRun,
} from '@temps/testing';
import { LaneStateHash, laneLayout } from '@temps/streams';
import { FULL, JAN_1_2025, Pipeline, pause, producerArgs } from './support/pipeline';

// Ten devices over six lanes, written at full speed by one to four producer processes at once,
// which are killed (SIGKILL, SIGTERM), paused past their lease (SIGSTOP … SIGCONT) and started at
// random; every death stalls its lanes for the lease. 2.6 M readings (short) or 8.6 M (full).
const DAYS = FULL ? 10 : 3;
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: DAYS, devices: 10, shards: 6, seed: 1_717 };
const LAST_HOUR = `${JAN_1_2025 + DAYS * 86_400_000 - 3_600_000}-0`;
const LEASE_MS = 2_000;
const ENV = { PRODUCER_SHARDS: '6', PRODUCER_LEASE_MS: String(LEASE_MS) };

describe('producers: many at once, killed, paused and started at random', () => {
  let server: PrivateRedis;
  let pipeline: Pipeline;
  let recorder: AveragesRecorder;
  const producers = new Set<ServiceProcess>();
  const stopping = new Set<ServiceProcess>();
  const crashes: string[] = [];

  const startProducer = () => {
    const child = new ServiceProcess('producer', producerArgs(RUN), {
      REDIS_URL: server.url,
      ...ENV,
    });
    producers.add(child);
    void child.exited.then((finished: Finished) => {
      producers.delete(child);
      if (!stopping.has(child) && finished.code !== 0) {
        crashes.push(
          `producer exited by itself (code ${finished.code}):\n${finished.stderr.slice(-2_000)}`,
        );
      }
    });
    return child;
  };
  const pick = () => [...producers][Math.floor(Math.random() * producers.size)];

  beforeAll(async () => {
    server = await startPrivateRedis();
    pipeline = await Pipeline.create(server.url, RUN, ENV);
    recorder = new AveragesRecorder(server.url);
  });
  afterAll(async () => {
    await Promise.all([...producers].map((p) => p.kill('SIGKILL')));
    await pipeline.stop();
    await recorder.stop();
    await server.stop();
  });

  it('ends with every lane as one uninterrupted producer writes it, and every hour once', async () => {
    const redis = server.client();
    pipeline.start('aggregator');
    pipeline.start('averages');
    for (let i = 0; i < 3; i++) startProducer();
    const injected = new Map<string, number>();
    const count = (what: string) => injected.set(what, (injected.get(what) ?? 0) + 1);

    const lanes = laneLayout(6, 10);
    const complete = async () => {
      const pipelineReply = redis.pipeline();
      lanes.forEach((lane) => pipelineReply.hget(LaneStateHash.keyOf(lane.tag), 'watermark_ms'));
      const end = String(JAN_1_2025 + DAYS * 86_400_000);
      return ((await pipelineReply.exec()) ?? []).every(([, v]) => v === end);
    };

    // Faults until every lane is complete; the count of producers stays between 1 and 4.
    while (!(await complete())) {
      await pause(200, 1_000);
      const roll = Math.random();
      if (producers.size === 0 || (producers.size < 4 && roll < 0.35)) {
        startProducer();
        count('start');
      } else if (roll < 0.6 && producers.size > 1) {
        const victim = pick();
        stopping.add(victim);
        await victim.kill('SIGKILL');
        count('SIGKILL');
      } else if (roll < 0.75 && producers.size > 1) {
        const victim = pick();
        stopping.add(victim);
        await victim.kill('SIGTERM');
        count('SIGTERM');
      } else if (roll < 0.85) {
        // Paused past its lease: its lanes pass on; thawed, it must write nothing to them.
        const victim = pick();
        process.kill(victim.pid, 'SIGSTOP');
        await pause(LEASE_MS + 1_500);
        if (victim.exitCode === null) process.kill(victim.pid, 'SIGCONT');
        count('SIGSTOP past the lease');
      }
    }
    // Every producer ends by itself once the run is complete.
    await eventually(() => producers.size === 0, 60_000);

    await recorder.waitFor(LAST_HOUR, 120_000);
    const hours = expectedHours(RUN);
    await eventually(
      async () =>
        (await redis.hget('averages_consumer_state{temps:averages}', 'last_seq')) ===
        String(hours.size),
      60_000,
    );
    await pipeline.stop();

    const readings = await checkPartitions(redis, RUN);
    const problems: string[] = [];
    const averages = checkAverages(recorder.seen, hours, {}, problems);
    const fault = [...injected]
      .sort()
      .map(([key, n]) => `producers: ${key} ×${n}`)
      .join(', ');
    const faults = [...injected.values()].reduce((a, b) => a + b, 0);
    recordRow({ fault, injected: faults, checkedIn: 'partitions', ...readings });
    recordRow({ fault, injected: faults, checkedIn: 'temps:averages', ...averages });

    expect(crashes).toEqual([]);
    expect(pipeline.crashes).toEqual([]);
    expect(readings).toEqual({ checked: DAYS * 864_000, lost: 0, doubled: 0, wrong: 0 });
    expect(problems).toEqual([]);
    expect(averages).toEqual({ checked: DAYS * 24, lost: 0, doubled: 0, wrong: 0 });
    expect(new Set(recorder.seen.map((a) => a.fields.num_observations))).toEqual(
      new Set(['36000']),
    );
    redis.disconnect();
  });
});
