import {
  ServiceProcess,
  eventually,
  runService,
  startPrivateRedis,
  type PrivateRedis,
} from '@temps/testing';
import { DAY_MS, LaneStateHash } from '@temps/streams';
import { LaneProducer, evenlyHeldBy, laneDigests, registry } from './lanes-fixture';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const DAYS = 1;
const RUN = ['--shards', '6', '--devices', '10', '--seed', '21', '--days', String(DAYS)];
/**
 * A simulated day in 36 s: long enough to start, kill and restart producers mid-run. A partition
 * expires 2 simulated days (72 s) after its newest reading, well after the run's end, so every lane
 * can be compared whole.
 */
const PACED = [...RUN, '--speed', '2400', '--resume'];
const LEASE_MS = 5_000;

describe('producer lanes: many producers share the lanes of one run', () => {
  let reference: PrivateRedis;
  let shared: PrivateRedis;
  let expected: Record<string, string>;

  beforeAll(async () => {
    [reference, shared] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
    const single = await runService('producer', RUN, { REDIS_URL: reference.url });
    expect(single.code).toBe(0);
    expected = await laneDigests(reference.client());
  });
  afterAll(() => Promise.all([reference.stop(), shared.stop()]));

  it('2 then 3 producers split 6 lanes evenly; killed or stopped ones pass their lanes on; the lanes end byte-identical to one uninterrupted producer', async () => {
    const redis = shared.client();
    const all: LaneProducer[] = [];
    const start = async () => {
      const producer = await LaneProducer.start(shared, PACED);
      all.push(producer);
      return producer;
    };
    const even = (ids: string[]) => evenlyHeldBy(redis, ids, 6);
    // Each kill or start lands at a random moment of a batch, a lease renewal or a hand-over.
    const jitter = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 800));
    try {
      // Started at the same moment with --resume on an empty Redis: exactly one run is created.
      const [a, b] = await Promise.all([start(), start()]);
      const [idA, idB] = await Promise.all([a.id(), b.id()]);
      const runIds = new Set([a, b].map((p) => /in run (\S+):/.exec(p.process.stdout)![1]));
      expect(runIds.size).toBe(1);
      await eventually(() => even([idA, idB]), 15_000);

      await jitter();
      const c = await start();
      const idC = await c.id();
      await eventually(() => even([idA, idB, idC]), 15_000);

      // SIGKILL: b's lanes stall until its lease lapses, then go to a and c.
      await jitter();
      const killedAt = Date.now();
      await b.process.kill('SIGKILL');
      await eventually(() => even([idA, idC]), 20_000, 20);
      const stallMs = Date.now() - killedAt;
      // The figure the docs quote: how long a dead producer's lanes stall.
      // eslint-disable-next-line no-console
      console.log(
        `lanes of a SIGKILLed producer held again after ${stallMs} ms (lease ${LEASE_MS} ms)`,
      );
      expect(stallMs).toBeLessThan(LEASE_MS + LEASE_MS / 3 + 2_000);

      // 2 → 4 producers.
      await jitter();
      const [d, e] = await Promise.all([start(), start()]);
      const [idD, idE] = await Promise.all([d.id(), e.id()]);
      await eventually(() => even([idA, idC, idD, idE]), 15_000);

      // A graceful stop gives the lanes back at once: taken at the others' next call, not after the lease.
      await jitter();
      const stoppedAt = Date.now();
      expect((await c.process.kill('SIGTERM')).code).toBe(0);
      await eventually(() => even([idA, idD, idE]), 10_000, 20);
      expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS);

      // Down to one producer, at random among the others; it finishes the run alone.
      const rest = [a, d, e];
      const keep = rest.splice(Math.floor(Math.random() * rest.length), 1)[0];
      for (const victim of rest) {
        await jitter();
        await victim.process.kill('SIGKILL');
      }
      expect(keep.process.exitCode).toBeNull(); // the run was still in progress
      const finished = await keep.process.exited;
      expect(finished.code).toBe(0);
      expect(finished.stdout).toContain(
        `All 6 lanes are written up to ${new Date(JAN_1_2025 + DAYS * DAY_MS).toISOString()}`,
      );
    } finally {
      await Promise.all(all.map((p) => p.process.kill('SIGKILL')));
    }

    expect(await laneDigests(redis)).toEqual(expected);
    expect(Object.keys(expected)).toHaveLength(6 * DAYS);
    const reg = (await registry(redis))!;
    for (const lane of reg.lanes) {
      const hash = await redis.hgetall(LaneStateHash.keyOf(lane.tag));
      expect(Number(hash[LaneStateHash.FIELDS.watermarkMs])).toBe(JAN_1_2025 + DAYS * DAY_MS);
      expect(hash[LaneStateHash.FIELDS.runId]).toBe(reg.runId);
    }
    for (const key of Object.keys(expected)) expect(await redis.pttl(key)).toBeGreaterThan(0);
  });
});

describe('producer lanes: resuming', () => {
  it('refuses --resume with another --shards in one line, touching nothing; resumed as it was, a finished run is complete', async () => {
    const server = await startPrivateRedis();
    try {
      const redis = server.client();
      const args = ['--shards', '6', '--devices', '6', '--days', '1', '--seed', '4'];
      expect((await runService('producer', args, { REDIS_URL: server.url })).code).toBe(0);
      const before = await laneDigests(redis);
      expect(Object.keys(before)).toHaveLength(6);
      const refused = await runService(
        'producer',
        [...args.slice(2), '--shards', '4', '--resume'],
        {
          REDIS_URL: server.url,
        },
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n')).toEqual([
        'producer: Cannot resume: the saved run has shards = 6, but 4 was asked for. Drop the option or start a new run without --resume.',
      ]);
      expect(await laneDigests(redis)).toEqual(before);

      const again = await runService('producer', [...args, '--resume'], { REDIS_URL: server.url });
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('The last run is already complete; nothing to resume.');
      expect(await laneDigests(redis)).toEqual(before);
    } finally {
      await server.stop();
    }
  });

  it('resumed without REDIS_WAIT_REPLICAS, takes the lanes without the confirmed marks a run with it left', async () => {
    // A Redis without replicas: WAIT 1 never answers 1, so the marks stay where the lanes began.
    const server = await startPrivateRedis();
    try {
      const redis = server.client();
      const args = ['--shards', '2', '--devices', '2', '--days', '1', '--seed', '6'];
      const env = { REDIS_URL: server.url, PRODUCER_LEASE_MS: '1000' };
      const confirming = new ServiceProcess('producer', [...args, '--speed', '20000'], {
        ...env,
        REDIS_WAIT_REPLICAS: '1',
      });
      const marks = async () => {
        const lanes = (await registry(redis))?.lanes ?? [];
        return Promise.all(
          lanes.map(async ({ tag }) => {
            const hash = await redis.hgetall(LaneStateHash.keyOf(tag));
            return {
              watermark: Number(hash[LaneStateHash.FIELDS.watermarkMs]),
              confirmed: hash[LaneStateHash.FIELDS.confirmedMs],
            };
          }),
        );
      };
      await eventually(
        async () => {
          const seen = await marks();
          return seen.length === 2 && seen.every((m) => m.watermark > JAN_1_2025 + 60_000);
        },
        30_000,
        100,
      );
      // Killed mid-run (a resumed run keeps its pace: a day in 4.3 s).
      expect((await confirming.kill('SIGKILL')).signal).toBe('SIGKILL');
      expect((await marks()).map((m) => m.confirmed)).toEqual([
        String(JAN_1_2025),
        String(JAN_1_2025),
      ]);

      const resumed = await runService('producer', [...args, '--resume'], env);
      expect(resumed.code).toBe(0);
      // No mark left behind that nothing would move again: the lanes are read to their watermarks.
      expect(await marks()).toEqual([
        { watermark: JAN_1_2025 + DAY_MS, confirmed: undefined },
        { watermark: JAN_1_2025 + DAY_MS, confirmed: undefined },
      ]);
    } finally {
      await server.stop();
    }
  });
});
