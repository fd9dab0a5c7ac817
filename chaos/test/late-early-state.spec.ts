import {
  AveragesRecorder,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  metricValue,
  recordRow,
  usePrivateRedis,
  type PrivateRedis,
  type SimulatedRun,
} from '@temps/testing';
import { DAY_MS, HOUR_MS, entryIdMs, partitionKeyFor, startOfDay } from '@temps/streams';
import type { Redis } from 'ioredis';
import { FULL, JAN_1_2025, Pipeline } from './support/pipeline';

const DAYS = FULL ? 4 : 2;
const LATE = FULL ? 20 : 5;

/** The aggregator's count of readings rejected for `reason`. */
async function rejected(pipeline: Pipeline, reason: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${pipeline.ports.aggregator}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  return (
    metricValue(text, `temps_readings_rejected_total{reason="${reason}",service="aggregator"}`) ?? 0
  );
}

describe('late and early readings, and state lost under the running stack', () => {
  const fixture = usePrivateRedis();
  let server: PrivateRedis;
  let redis: Redis;
  beforeAll(() => ({ server, redis } = fixture));

  /**
   * Runs a scenario against the whole pipeline and checks every reading and every hour against
   * the reference run. A scenario may hand back its own recorder (one started after Redis lost
   * everything sees only what came after).
   */
  async function run(
    seed: number,
    scenario: (pipeline: Pipeline) => Promise<{
      fault: string;
      injected: number;
      ignoreIds?: Set<string>;
      recorder?: AveragesRecorder;
    }>,
    env: NodeJS.ProcessEnv = {},
    days = DAYS,
  ) {
    const RUN: SimulatedRun = { startMs: JAN_1_2025, days, devices: 2, seed };
    const lastHour = `${JAN_1_2025 + days * DAY_MS - HOUR_MS}-0`;
    const pipeline = await Pipeline.create(server.url, RUN, env);
    let recorder = new AveragesRecorder(server.url);
    try {
      const outcome = await scenario(pipeline);
      const { fault, injected, ignoreIds = new Set() } = outcome;
      if (outcome.recorder) {
        await recorder.stop();
        recorder = outcome.recorder;
      }
      await recorder.waitFor(lastHour, 120_000);
      await eventually(
        async () => (await redis.hget('averages_consumer_state', 'last_seq')) === String(days * 24),
        60_000,
      );
      await pipeline.stop();
      const readings = await checkPartitions(redis, RUN, { ignoreIds });
      const averages = checkAverages(recorder.seen, expectedHours(RUN));
      recordRow({ fault, injected, checkedIn: 'partitions', ...readings });
      recordRow({ fault, injected, checkedIn: 'temps:averages', ...averages });
      expect(pipeline.crashes).toEqual([]);
      expect(readings).toEqual({ checked: days * 2 * 86_400, lost: 0, doubled: 0, wrong: 0 });
      expect(averages).toEqual({ checked: days * 24, lost: 0, doubled: 0, wrong: 0 });
    } finally {
      await pipeline.stop();
      await recorder.stop();
    }
  }

  it('late readings: counted, logged, and no published average changes, across a restart', async () => {
    await run(41, async (pipeline) => {
      pipeline.start('producer');
      pipeline.start('aggregator');
      pipeline.start('averages');
      await pipeline.expectEnd('producer');
      const end = JAN_1_2025 + DAYS * DAY_MS;
      const last = partitionKeyFor(end - 1);
      // Wait until the last hour is published, then write readings for it (and a restart between).
      await eventually(
        async () =>
          (await redis.xlen('temps:averages')) > 0 &&
          (await redis.xrevrange('temps:averages', '+', '-', 'COUNT', 1))[0][0] ===
            `${end - HOUR_MS}-0`,
        120_000,
      );
      const ignoreIds = new Set<string>();
      for (let i = 0; i < LATE; i++) {
        const id = `${end - 1}-${10 + i}`;
        await redis.xadd(last, id, 'temp_f', String(-100 + i));
        ignoreIds.add(`${last} ${id}`);
        if (i === Math.floor(LATE / 2)) {
          await eventually(async () => (await rejected(pipeline, 'late')) === i + 1, 30_000);
          await pipeline.kill('aggregator', 'SIGKILL');
          pipeline.start('aggregator');
          await eventually(async () => (await pipeline.health('aggregator')) === 200, 30_000);
        }
      }
      const afterRestart = LATE - Math.floor(LATE / 2) - 1;
      await eventually(async () => (await rejected(pipeline, 'late')) === afterRestart, 30_000);
      return {
        fault: `late readings of a published hour ×${LATE} (aggregator restarted between)`,
        injected: LATE,
        ignoreIds,
      };
    });
  });

  it('early readings: ahead of a frozen producer, in the current and the next partition; they close nothing', async () => {
    await run(
      42,
      async (pipeline) => {
        pipeline.start('producer');
        pipeline.start('aggregator');
        pipeline.start('averages');
        // Freeze the producer mid-run, its watermark inside a day.
        await eventually(
          async () =>
            Number(await redis.hget('producer_state', 'watermark_ms')) > JAN_1_2025 + 3 * HOUR_MS,
          60_000,
          5,
        );
        pipeline.freeze('producer', true);
        try {
          const watermark = Number(await redis.hget('producer_state', 'watermark_ms'));
          const here = Math.min(watermark + 2 * HOUR_MS, startOfDay(watermark) + DAY_MS - 1);
          const tomorrow = startOfDay(watermark) + DAY_MS + 10 * HOUR_MS;
          const early = [
            [partitionKeyFor(here), `${here}-9`],
            [partitionKeyFor(tomorrow), `${tomorrow}-9`],
          ];
          for (const [key, id] of early) await redis.xadd(key, id, 'temp_f', '99');
          // The aggregator catches up to the watermark and meets them; it reads nothing past it.
          await eventually(async () => (await rejected(pipeline, 'early')) >= 1, 60_000);
          await eventually(async () => {
            const lastId = await redis.hget('aggregating_consumer_state', 'last_message_id');
            return lastId !== null && lastId !== '0' && entryIdMs(lastId) >= watermark - 1_000;
          }, 60_000);
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          const at = await redis.hget('aggregating_consumer_state', 'last_message_id');
          expect(entryIdMs(at!)).toBeLessThan(watermark);
          // The device's clock is put right: its entries are deleted before the producer goes on.
          for (const [key, id] of early) await redis.xdel(key, id);
        } finally {
          pipeline.freeze('producer', false);
        }
        await pipeline.expectEnd('producer');
        return {
          fault: 'early readings ×2 (current and next partition, ahead of the watermark)',
          injected: 2,
        };
      },
      // Paced, so the watermark stays inside a day while frozen. A partition lives two simulated
      // days past its last reading in real time (here 96-144 s): two days at 1800x leave the
      // first one readable for the checks after the run, whatever the profile.
      { PRODUCER_SPEED: '1800' },
      2,
    );
  });

  it('state lost under the running stack: every service notices, begins again, and ends exact', async () => {
    await run(43, async (pipeline) => {
      pipeline.start('producer');
      pipeline.start('aggregator');
      pipeline.start('averages');
      // Held mid-run (at max speed it would otherwise finish its two days in about a second, before
      // the consumers have anything to lose): frozen once it has written four hours.
      await eventually(
        async () => (await redis.xlen('temps:20250101')) >= 4 * 3_600 * 2,
        60_000,
        5,
      );
      pipeline.freeze('producer', true);
      await eventually(async () => (await redis.xlen('temps:averages')) >= 3, 60_000);
      // Redis loses everything under the running stack (as a restart without persistence would).
      const producerEnds = pipeline.expectEnd('producer');
      await redis.flushall();
      pipeline.freeze('producer', false);
      const recorder = new AveragesRecorder(server.url);
      const finished = await producerEnds;
      expect(finished.stderr).toContain(
        'producer_state disappeared from Redis while the producer ran',
      );
      // Its supervisor starts it again (--resume, as in the stack): with no run to resume, a new run.
      pipeline.start('producer');
      await pipeline.expectEnd('producer');
      return { fault: 'state lost under the running stack (FLUSHALL) ×1', injected: 1, recorder };
    });
  });
});
