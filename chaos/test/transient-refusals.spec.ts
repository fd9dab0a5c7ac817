import {
  AveragesRecorder,
  REFUSAL_KINDS,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  recordRow,
  refuse,
  startRefusingRedis,
  type SimulatedRun,
} from '@temps/testing';
import { FULL, JAN_1_2025, Pipeline, pause } from './support/pipeline';

// Two days of two devices (345,600 readings, 48 hours), paced so that the refusals fall inside the
// run: at 7,200x (full: 3,600x) it takes 24 s (48 s), and its first partition expires a simulated
// day later (12 s; 24 s), which leaves the time to check every reading.
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 2, devices: 2, seed: 43 };
const SPEED = FULL ? '3600' : '7200';
const HOURS = RUN.days * 24;
const LAST_HOUR = `${JAN_1_2025 + RUN.days * 86_400_000 - 3_600_000}-0`;
const ROUNDS = FULL ? 3 : 1;

describe('Redis refusals that clear by themselves during a run: MISCONF, BUSY, READONLY', () => {
  it('no service ends; each goes on by itself when the refusal clears, and the data ends exact', async () => {
    const redis = await startRefusingRedis();
    const admin = redis.client();
    const pipeline = await Pipeline.create(redis.url, RUN, { PRODUCER_SPEED: SPEED });
    const recorder = new AveragesRecorder(redis.url);
    const consumers = ['aggregator', 'averages'] as const;
    const allAnswer = async (code: number) =>
      (await Promise.all(consumers.map((s) => pipeline.health(s)))).every((s) => s === code);
    let injected = 0;
    try {
      pipeline.start('producer');
      pipeline.start('aggregator');
      pipeline.start('averages');
      await eventually(() => allAnswer(200), 30_000);

      for (let round = 0; round < ROUNDS; round++) {
        for (const kind of REFUSAL_KINDS) {
          await pause(300, 1_000);
          const refusal = await refuse(redis.url, kind);
          injected++;
          // MISCONF and BUSY refuse PING too: every consumer says so at once.
          if (kind !== 'READONLY') await eventually(() => allAnswer(503), 8_000);
          await pause(1_000, 2_000);
          expect(pipeline.crashes).toEqual([]);
          await refusal.clear();
        }
      }
      await eventually(() => allAnswer(200), 30_000);

      // The producer's run completes (its readings checked before the first partition expires),
      // everything is aggregated and read, nobody ended.
      expect((await pipeline.process('producer')!.exited).code).toBe(0);
      const readings = await checkPartitions(admin, RUN);
      await recorder.waitFor(LAST_HOUR, 120_000);
      await eventually(
        async () => (await admin.hget('averages_consumer_state', 'last_seq')) === String(HOURS),
        30_000,
      );
      expect(consumers.map((s) => pipeline.isRunning(s))).toEqual([true, true]);
      await pipeline.stop();

      const averages = checkAverages(recorder.seen, expectedHours(RUN));
      const fault = `Redis refuses for 1-2 s: MISCONF, BUSY, READONLY ×${ROUNDS} each`;
      recordRow({ fault, injected, checkedIn: 'partitions', ...readings });
      recordRow({ fault, injected, checkedIn: 'temps:averages', ...averages });

      expect(pipeline.crashes).toEqual([]);
      expect(readings).toEqual({ checked: 345_600, lost: 0, doubled: 0, wrong: 0 });
      expect(averages).toEqual({ checked: HOURS, lost: 0, doubled: 0, wrong: 0 });
      // The reader printed every hour once: a save refused for a while is not printed again.
      expect(pipeline.printed).toHaveLength(HOURS);
      expect(new Set(pipeline.printed).size).toBe(HOURS);
    } finally {
      await pipeline.stop();
      await recorder.stop();
      await redis.stop();
    }
  });
});
