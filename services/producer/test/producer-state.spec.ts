import {
  ServiceProcess,
  checkPartitions,
  eventually,
  freePort,
  runService,
  startPrivateRedis,
  usePrivateRedis,
  type PrivateRedis,
} from '@temps/testing';
import { DAY_MS } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const watermark = async (redis: Redis) =>
  Number(await redis.hget('producer_state', 'watermark_ms'));

describe('producer: state that vanishes or is replaced, a second instance, a full Redis', () => {
  let running: ServiceProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    running = [];
  });
  async function follow(server: PrivateRedis, args: string[]) {
    const port = await freePort();
    const child = new ServiceProcess('producer', ['--follow', ...args], {
      REDIS_URL: server.url,
      PORT: String(port),
    });
    running.push(child);
    return { child, health: async () => (await fetch(`http://127.0.0.1:${port}/health`)).status };
  }

  describe('on a Redis with room', () => {
    const fixture = usePrivateRedis();
    let server: PrivateRedis;
    let redis: Redis;
    beforeAll(() => ({ server, redis } = fixture));

    it('its run deleted under it: one line naming what happened, exit 1, nothing written back', async () => {
      const { child } = await follow(server, ['--speed', '3600', '--seed', '1']);
      await eventually(async () => (await watermark(redis)) > JAN_1_2025 + 60_000);
      await redis.flushall();
      const finished = await child.exited;
      expect(finished.code).toBe(1);
      expect(finished.stderr.trim()).toBe(
        'producer: producer_state disappeared from Redis while the producer ran (deleted, or evicted under an allkeys-* maxmemory-policy); start the producer again to begin a new run.',
      );
      expect(finished.stderr).not.toMatch(/STALE_RUN|STALE_STATE|reset or replaced/);
      expect(await redis.exists('producer_state')).toBe(0);
    });

    it('its run replaced by a new run: one line, exit 1; the new run goes on', async () => {
      const { child: first } = await follow(server, ['--speed', '3600', '--seed', '1']);
      await eventually(async () => (await watermark(redis)) > JAN_1_2025);
      const { child: second } = await follow(server, [
        '--speed',
        '3600',
        '--seed',
        '2',
        '--start',
        '2025-06-01',
      ]);
      const finished = await first.exited;
      expect(finished.code).toBe(1);
      expect(finished.stderr.trim()).toMatch(
        /^producer: producer_state now holds run [0-9a-f-]{36}, not this producer run [0-9a-f-]{36}: another producer started a new run, so this one stops\.$/,
      );
      await eventually(async () => (await watermark(redis)) > Date.UTC(2025, 5, 1) + 3_600_000);
      expect(second.exitCode).toBeNull();
    });

    it('a second producer resuming the same run says so once and waits; the readings stay exact', async () => {
      const days = 10;
      const result = runService('producer', ['--days', String(days), '--seed', '7'], {
        REDIS_URL: server.url,
      });
      await eventually(async () => (await watermark(redis)) > JAN_1_2025 + 3_600_000);
      const port = await freePort();
      const second = new ServiceProcess('producer', ['--resume'], {
        REDIS_URL: server.url,
        PORT: String(port),
      });
      running.push(second);
      const [a, b] = await Promise.all([result, second.exited]);
      expect(a.code).toBe(0);
      expect(b.code).toBe(0);
      const log = a.stdout + a.stderr + b.stdout + b.stderr;
      expect(
        log.split('\n').filter((l) => /Another producer is writing/.test(l)).length,
      ).toBeLessThanOrEqual(1);
      expect(log).not.toMatch(/refused as already written|POSITION_MISMATCH|STALE_STATE/);
      expect(await watermark(redis)).toBe(JAN_1_2025 + days * DAY_MS);
      const tally = await checkPartitions(redis, {
        startMs: JAN_1_2025,
        days,
        devices: 1,
        seed: 7,
      });
      expect(tally).toEqual({ checked: days * 86_400, lost: 0, doubled: 0, wrong: 0 });
    });
  });

  describe('on a full Redis (maxmemory, noeviction)', () => {
    let server: PrivateRedis;
    let redis: Redis;
    beforeAll(async () => {
      server = await startPrivateRedis({
        args: ['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction'],
      });
      redis = server.client();
    });
    afterAll(() => server.stop());
    beforeEach(() => redis.flushall());

    it('a bounded run ends with one line saying what the run needs; no batch is half-written', async () => {
      const result = await runService('producer', ['--days', '10', '--seed', '3'], {
        REDIS_URL: server.url,
      });
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(
        /^producer: Redis is full \(used_memory [\d.]+ MB, maxmemory 3\.0 MB\) and refused a batch of readings, writing none of it: this run keeps up to 864,000 readings alive at once \(10 days × 86,400 a day\), about 16\.5 MB at ~20 bytes a reading/,
      );
      expect(result.stderr).not.toMatch(/script:|@user_script/);
      // Whole batches only: the partitions hold exactly the readings before the saved watermark.
      const upTo = await watermark(redis);
      const days = Math.ceil((upTo - JAN_1_2025) / DAY_MS);
      const tally = await checkPartitions(redis, {
        startMs: JAN_1_2025,
        days,
        devices: 1,
        seed: 3,
      });
      const written = (upTo - JAN_1_2025) / 1_000;
      expect(tally.lost).toBe(days * 86_400 - written);
      expect({ doubled: tally.doubled, wrong: tally.wrong }).toEqual({ doubled: 0, wrong: 0 });
    });

    it('--follow waits, unhealthy, and goes on by itself once expiry frees memory', async () => {
      // Half a simulated day a second: a partition expires 4 to 6 s after it was written.
      const { child, health } = await follow(server, ['--speed', '43200', '--seed', '4']);
      await child.waitFor('Redis is full', 30_000);
      await eventually(async () => (await health()) === 503, 10_000, 20);
      await eventually(async () => (await watermark(redis)) > JAN_1_2025 + 6 * DAY_MS, 60_000);
      await eventually(async () => (await health()) === 200, 10_000, 20);
      expect(child.exitCode).toBeNull();
      expect(
        child.stderr.split('\n').filter((l) => /Redis is full/.test(l)).length,
      ).toBeLessThanOrEqual(2);
    });
  });
});
