import {
  AveragesRecorder,
  RestartableRedis,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  recordRow,
  type SimulatedRun,
} from '@temps/testing';
import { Redis } from 'ioredis';
import { FULL, JAN_1_2025, Pipeline, pause } from './support/pipeline';

// Five days of two devices (864,000 readings, 120 hours).
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 5, devices: 2, seed: 31 };
const LAST_HOUR = `${JAN_1_2025 + 5 * 86_400_000 - 3_600_000}-0`;
const CLIENT_KILLS = FULL ? 40 : 10;
const CRASHES = FULL ? 3 : 1;

describe('Redis faults during a run: killed connections, crashes, 10 s unreachable', () => {
  it('services report unhealthy while Redis is gone, reconnect by themselves and end exact', async () => {
    const redis = await RestartableRedis.start();
    const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
    admin.on('error', () => undefined);
    const pipeline = await Pipeline.create(redis.url, RUN);
    const recorder = new AveragesRecorder(redis.url);
    const consumers = ['aggregator', 'averages'] as const;
    const allAnswer = async (code: number) =>
      (await Promise.all(consumers.map((s) => pipeline.health(s)))).every((s) => s === code);
    try {
      pipeline.start('producer');
      pipeline.start('aggregator');
      pipeline.start('averages');
      await eventually(() => allAnswer(200), 30_000);

      // Every client connection killed, again and again, while the producer and aggregator work.
      for (let i = 0; i < CLIENT_KILLS; i++) {
        await pause(50 + Math.random() * 250);
        await admin.client('KILL', 'TYPE', 'normal').catch(() => undefined);
      }
      // Crashes and restarts: the append-only file keeps what was acknowledged.
      for (let i = 0; i < CRASHES; i++) {
        await redis.down('SIGKILL');
        await pause(Math.random() * 1_000);
        await redis.up();
        await pause(500 + Math.random() * 1_500);
      }
      // The producer's run survives all of it and completes.
      expect((await pipeline.process('producer')!.exited).code).toBe(0);

      // Unreachable for 10 s: the consumers say so, and neither exits.
      await redis.down('SIGTERM');
      const downAt = Date.now();
      await eventually(() => allAnswer(503), 8_000);
      await pause(Math.max(0, 10_000 - (Date.now() - downAt)));
      expect(consumers.map((s) => pipeline.isRunning(s))).toEqual([true, true]);
      await redis.up();
      await eventually(() => allAnswer(200), 30_000);

      // All five days aggregated, the last hour included, and read.
      await recorder.waitFor(LAST_HOUR, 120_000);
      await eventually(
        async () => (await admin.hget('averages_consumer_state', 'last_seq')) === '120',
        30_000,
      ).catch(async (error) => {
        const state = await admin.hgetall('averages_consumer_state');
        throw new Error(`${error}; reader state ${JSON.stringify(state)}\n${pipeline.describe()}`);
      });
      await pipeline.stop();

      const readings = await checkPartitions(admin, RUN);
      const averages = checkAverages(recorder.seen, expectedHours(RUN));
      const fault = `Redis: CLIENT KILL ×${CLIENT_KILLS}, crash + restart (AOF) ×${CRASHES}, 10 s unreachable ×1`;
      const injected = CLIENT_KILLS + CRASHES + 1;
      recordRow({ fault, injected, checkedIn: 'partitions', ...readings });
      recordRow({ fault, injected, checkedIn: 'temps:averages', ...averages });

      expect(pipeline.crashes).toEqual([]);
      expect(readings).toEqual({ checked: 864_000, lost: 0, doubled: 0, wrong: 0 });
      expect(averages).toEqual({ checked: 120, lost: 0, doubled: 0, wrong: 0 });
      // What Redis keeps agrees with what the recorder saw: the same 120 averages, numbered 1..120.
      const kept = await admin.xrange('temps:averages', '-', '+');
      expect(kept.map(([id]) => id)).toEqual(recorder.seen.map((a) => a.id));
      expect(kept.map(([, fields]) => fields[fields.indexOf('seq') + 1])).toEqual(
        Array.from({ length: 120 }, (_, i) => String(i + 1)),
      );
    } finally {
      await pipeline.stop();
      await recorder.stop();
      admin.disconnect();
      await redis.destroy();
    }
  });
});
