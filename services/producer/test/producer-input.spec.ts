import { createServer, type Server } from 'node:net';
import {
  freePort,
  runService,
  snapshotRedis,
  startPrivateRedis,
  type PrivateRedis,
} from '@temps/testing';
import type { Redis } from 'ioredis';

describe('producer: bad input is refused before anything is deleted or written', () => {
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis({ password: 's3cret-pass' });
    redis = server.client();
    // Something a careless producer would delete: an earlier run's partition and state.
    await redis.xadd('temps:20250101', '1735689600000-0', 'temp_f', '50');
    await redis.hset('producer_state', 'run_id', 'earlier');
  });
  afterAll(() => server.stop());

  // Every refused value and its exact line is checked in-process (src/producer-config.spec.ts);
  // these prove the process reads its own command line and environment, and stops before Redis.
  const cases: [string, string[], NodeJS.ProcessEnv, string][] = [
    ['an unknown option', ['--dayz', '3'], {}, "unknown option '--dayz' (Did you mean --days?)"],
    [
      'a bad environment value',
      [],
      { PRODUCER_DEVICES: 'many' },
      "option '--devices <n>' value 'many' from env 'PRODUCER_DEVICES' is invalid. Devices must be a whole number from 1 to 10000.",
    ],
    [
      'a run past 9999-12-31',
      ['--start', '9999-12-31', '--days', '2'],
      {},
      '--start + --days must end by 9999-12-31 (the last partition, temps:99991231); 2 days from 9999-12-31 end later.',
    ],
  ];

  it.each(cases)('%s: one clear line, exit 1, Redis unchanged', async (_, args, env, message) => {
    const before = await snapshotRedis(redis);
    const result = await runService('producer', args, { REDIS_URL: server.url, ...env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`producer: ${message}\n`);
    expect(await snapshotRedis(redis)).toEqual(before);
  });

  it('a wrong password: one clear line without the password, Redis unchanged', async () => {
    const before = await snapshotRedis(redis);
    const result = await runService('producer', [], {
      REDIS_URL: `redis://:wrong-pass@127.0.0.1:${server.port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `producer: Cannot use Redis at redis://:***@127.0.0.1:${server.port}: wrong user name or password`,
    );
    expect(await snapshotRedis(redis)).toEqual(before);
  });

  it('a missing password (REDIS_PASSWORD works, its absence is named)', async () => {
    const missing = await runService('producer', [], {
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(server.port),
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Redis requires a password/);
    const given = await runService('producer', ['--days', '1', '--start', '2030-01-01'], {
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(server.port),
      REDIS_PASSWORD: 's3cret-pass',
    });
    expect(given.code).toBe(0);
    expect(await redis.xlen('temps:20300101')).toBe(86_400);
    await redis.del('temps:20300101');
    await redis.hset('producer_state', 'run_id', 'earlier');
    await redis.hdel(
      'producer_state',
      ...(await redis.hkeys('producer_state')).filter((f) => f !== 'run_id'),
    );
  });

  it('an unreachable Redis: one clear line, exit 1', async () => {
    const port = await freePort();
    const result = await runService('producer', [], { REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      new RegExp(
        `^producer: Cannot use Redis at redis://127.0.0.1:${port}/?: connect ECONNREFUSED`,
      ),
    );
  });

  it('a port already in use (--follow): one clear line, Redis unchanged', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, resolve));
    try {
      const before = await snapshotRedis(redis);
      const result = await runService('producer', ['--follow'], {
        REDIS_URL: server.url,
        PORT: String(port),
      });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `producer: Port ${port} is already in use; set PORT to a free port.`,
      );
      expect(await snapshotRedis(redis)).toEqual(before);
    } finally {
      blocker.close();
    }
  });
});

describe('producer: the first and last days a run can have', () => {
  let server: PrivateRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterAll(() => server.stop());

  it.each([
    ['1970-01-02', 'temps:19700102', `${Date.UTC(1970, 0, 2)}-0`],
    ['9999-12-31', 'temps:99991231', `${Date.UTC(9999, 11, 31)}-0`],
  ])('--start %s --days 1 writes %s from %s', async (start, key, firstId) => {
    const result = await runService('producer', ['--start', start, '--days', '1', '--seed', '1'], {
      REDIS_URL: server.url,
    });
    expect(result.code).toBe(0);
    expect(await redis.xlen(key)).toBe(86_400);
    expect((await redis.xrange(key, '-', '+', 'COUNT', 1))[0][0]).toBe(firstId);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('a saved run outside the range is refused on --resume, nothing written', async () => {
    await redis.flushall();
    await runService('producer', ['--start', '2025-01-01', '--days', '1', '--seed', '1'], {
      REDIS_URL: server.url,
    });
    await redis.hset(
      'producer_state',
      'start_ms',
      String(-86_400_000),
      'end_ms',
      '0',
      'watermark_ms',
      '-1000',
    );
    const before = await snapshotRedis(redis);
    const result = await runService('producer', ['--resume'], { REDIS_URL: server.url });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^producer: producer_state holds a run outside 1970-01-01/,
    );
    expect(await snapshotRedis(redis)).toEqual(before);
  });
});
