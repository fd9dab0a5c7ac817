import {
  RestartableRedis,
  ServiceProcess,
  actualAverages,
  eventually,
  expectedAverages,
  freePort,
  runService,
  startPrivateRedis,
  streamDigest,
} from '@temps/testing';
import { DAY_MS, partitionKeysBetween } from '@temps/streams';
import { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
// Five days of two devices: 120 hours, exactly what temps:averages keeps, so all can be compared.
const PARTITIONS = partitionKeysBetween(JAN_1_2025, JAN_1_2025 + 5 * DAY_MS);
const LAST_HOUR = `${JAN_1_2025 + 5 * DAY_MS - 3_600_000}-0`;
const ARGS = ['--days', '5', '--devices', '2', '--seed', '31'];

const status = (port: number): Promise<number> =>
  fetch(`http://127.0.0.1:${port}/health`).then(
    (r) => r.status,
    () => 0,
  );

const allAnswer = async (ports: number[], code: number) =>
  (await Promise.all(ports.map(status))).every((s) => s === code);

describe('Redis faults during a run: killed connections, a crash, 10 s unreachable', () => {
  it('services report unhealthy while Redis is gone, reconnect by themselves and end exact', async () => {
    // The reference: the same run, undisturbed.
    const reference = await startPrivateRedis();
    let expectedDigests: string[];
    try {
      expect((await runService('producer', ARGS, { REDIS_URL: reference.url })).code).toBe(0);
      expectedDigests = await Promise.all(
        PARTITIONS.map((key) => streamDigest(reference.client(), key)),
      );
    } finally {
      await reference.stop();
    }

    const redis = await RestartableRedis.start();
    const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
    admin.on('error', () => undefined);
    const consumers = [await freePort(), await freePort()];
    const producer = new ServiceProcess('producer', ARGS, { REDIS_URL: redis.url });
    const aggregator = new ServiceProcess('aggregator', [], {
      REDIS_URL: redis.url,
      PORT: String(consumers[0]),
      AGGREGATOR_FROM_OLDEST: 'true',
    });
    const averages = new ServiceProcess('averages', [], {
      REDIS_URL: redis.url,
      PORT: String(consumers[1]),
    });
    try {
      await eventually(() => allAnswer(consumers, 200), 30_000);

      // Connections killed again and again while the producer and the aggregator are busy.
      for (let i = 0; i < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
        await admin.client('KILL', 'TYPE', 'normal').catch(() => undefined);
      }
      // A crash and restart (the append-only file keeps what was acknowledged).
      await redis.down('SIGKILL');
      await redis.up();
      // The producer's run survives all of it and completes.
      expect((await producer.exited).code).toBe(0);

      // Unreachable for 10 s: the consumers say so, and neither exits.
      await redis.down('SIGTERM');
      const downAt = Date.now();
      await eventually(() => allAnswer(consumers, 503), 8_000);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - downAt))),
      );
      expect([aggregator.exitCode, averages.exitCode]).toEqual([null, null]);
      await redis.up();
      await eventually(() => allAnswer(consumers, 200), 30_000);

      // All five days aggregated, the last hour included.
      await eventually(
        async () => (await actualAverages(admin)).some((a) => a.id === LAST_HOUR),
        120_000,
      );
      // Every partition equals the undisturbed run; every hour's average is there once, exact,
      // numbered 1..120: none lost, none doubled.
      expect(await Promise.all(PARTITIONS.map((key) => streamDigest(admin, key)))).toEqual(
        expectedDigests,
      );
      const expected = await expectedAverages(admin, PARTITIONS);
      const actual = await actualAverages(admin);
      expect(expected).toHaveLength(120);
      expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
      expect(actual.map((a) => a.seq)).toEqual(expected.map((_, i) => i + 1));
    } finally {
      await Promise.all([producer, aggregator, averages].map((s) => s.kill('SIGKILL')));
      admin.disconnect();
      await redis.destroy();
    }
  });
});
