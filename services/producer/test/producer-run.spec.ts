import {
  readStream,
  runService,
  startPrivateRedis,
  streamDigest,
  type PrivateRedis,
} from '@temps/testing';
import { DAY_MS, PRODUCER_STATE_KEY, partitionKeysBetween } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const TEN_DAYS = partitionKeysBetween(JAN_1_2025, JAN_1_2025 + 10 * DAY_MS);

describe('producer: a bounded run', () => {
  let server: PrivateRedis;
  let redis: Redis;
  const produce = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runService('producer', args, { REDIS_URL: server.url, ...env });

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterAll(() => server.stop());
  beforeEach(() => redis.flushall());

  it('deletes its partitions, then writes 10 days of one reading per second with the seed console output', async () => {
    await redis.xadd('temps:20250103', '1-0', 'temp_f', 'stale');
    await redis.set('unrelated', 'kept');
    const result = await produce(['--seed', '1']);

    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').slice(0, 21)).toEqual([
      'Deleting old streams:',
      ...TEN_DAYS,
      ...TEN_DAYS.map((key) => `Populating stream partition ${key}.`),
    ]);
    for (const key of TEN_DAYS) expect(await redis.xlen(key)).toBe(86_400);
    expect(await redis.get('unrelated')).toBe('kept');

    const [first, second] = await redis.xrange('temps:20250105', '-', '+', 'COUNT', 2);
    expect(first[0]).toBe('1736035200000-0');
    expect(second[0]).toBe('1736035201000-0');
    expect(first[1]).toEqual(['temp_f', expect.stringMatching(/^\d+$/)]);
  });

  it('writes temp_f as integers in 0..100 moving by at most 1, each ID the reading time in ms', async () => {
    await produce(['--days', '1', '--seed', '2']);
    const entries = await redis.xrange('temps:20250101', '-', '+');
    const temps = entries.map(([, fields]) => Number(fields[1]));
    expect(entries.map(([id]) => id)).toEqual(
      Array.from({ length: 86_400 }, (_, i) => `${JAN_1_2025 + i * 1_000}-0`),
    );
    expect(temps.every((t) => Number.isInteger(t) && t >= 0 && t <= 100)).toBe(true);
    expect(temps.every((t, i) => i === 0 || Math.abs(t - temps[i - 1]) <= 1)).toBe(true);
    expect(new Set(temps).size).toBeGreaterThan(3);
  });

  it('gives several devices one entry each per second, sequence numbers 0.., with device_id', async () => {
    await produce(['--days', '1', '--devices', '3', '--seed', '3']);
    expect(await redis.xlen('temps:20250101')).toBe(3 * 86_400);
    const firstSecond = await redis.xrange('temps:20250101', '-', '+', 'COUNT', 4);
    expect(firstSecond.map(([id, fields]) => [id, fields[2], fields[3]])).toEqual([
      [`${JAN_1_2025}-0`, 'device_id', 'device-1'],
      [`${JAN_1_2025}-1`, 'device_id', 'device-2'],
      [`${JAN_1_2025}-2`, 'device_id', 'device-3'],
      [`${JAN_1_2025 + 1_000}-0`, 'device_id', 'device-1'],
    ]);
  });

  it('sets each partition to expire 2 simulated days after its newest reading, mapped onto now', async () => {
    await produce(['--seed', '1']);
    const ttls = await Promise.all(TEN_DAYS.map((key) => redis.ttl(key)));
    // Day 1 ends 1 s before day 2 starts: expiry = run start + 1 day - 1 s + 2 days.
    ttls.forEach((ttl, day) => {
      const expected = (day + 3) * 86_400 - 1;
      expect(ttl).toBeLessThanOrEqual(expected);
      expect(ttl).toBeGreaterThan(expected - 60);
    });
  });

  it('shrinks lifetimes by the speed factor, pacing writes to the simulated clock', async () => {
    const started = Date.now();
    await produce(['--days', '1', '--seed', '1', '--speed', '86400']);
    const elapsed = Date.now() - started;
    const ttl = await redis.pttl('temps:20250101');
    // A simulated day takes one real second; the partition expires 3 days - 1 s later, mapped: ~3 s.
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(await redis.xlen('temps:20250101')).toBe(86_400);
    expect(ttl).toBeGreaterThan(3_000 - elapsed - 100);
    expect(ttl).toBeLessThanOrEqual(3_000);
  });

  it('records its watermark: a finished bounded run ends at its end', async () => {
    await produce(['--days', '2', '--seed', '4', '--interval-ms', '7000']);
    const state = await redis.hgetall(PRODUCER_STATE_KEY);
    expect(Number(state.watermark_ms)).toBe(JAN_1_2025 + 2 * DAY_MS);
    expect(await redis.xlen('temps:20250101')).toBe(Math.ceil(86_400 / 7));
  });

  it('is deterministic for a seed, random without one', async () => {
    await produce(['--days', '1', '--seed', '42']);
    const first = await streamDigest(redis, 'temps:20250101');
    await produce(['--days', '1', '--seed', '42']);
    expect(await streamDigest(redis, 'temps:20250101')).toBe(first);
    await produce(['--days', '1']);
    expect(await streamDigest(redis, 'temps:20250101')).not.toBe(first);
  });

  it('takes every option from the environment too, and REDIS_HOST/REDIS_PORT', async () => {
    const result = await runService('producer', [], {
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(server.port),
      PRODUCER_START: '2024-02-28',
      PRODUCER_DAYS: '2',
      PRODUCER_INTERVAL_MS: '60000',
      PRODUCER_DEVICES: '2',
      PRODUCER_SEED: '9',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Populating stream partition temps:20240229.');
    expect(await redis.xlen('temps:20240228')).toBe(2 * 1_440);
    expect(await redis.xlen('temps:20240229')).toBe(2 * 1_440);
    const lines = await readStream(redis, 'temps:20240229');
    expect(lines[0]).toMatch(
      new RegExp(`^${Date.UTC(2024, 1, 29)}-0 temp_f \\d+ device_id device-1$`),
    );
  });

  it('takes an empty variable as unset, as a .env template line or compose passes it', async () => {
    const empty = [
      'PRODUCER_START',
      'PRODUCER_SEED',
      'PRODUCER_DEVICES',
      'PRODUCER_SPEED',
      'PRODUCER_FOLLOW',
      'PRODUCER_RESUME',
    ];
    const result = await produce(
      ['--days', '1', '--interval-ms', '60000'],
      Object.fromEntries(empty.map((name) => [name, ''])),
    );
    expect([result.code, result.stderr]).toEqual([0, '']);
    // The defaults: 2025-01-01, one device.
    expect(await redis.xlen('temps:20250101')).toBe(1_440);
  });
});
