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

  const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ['an unknown option', ['--dayz', '3'], {}, /unknown option '--dayz'/],
    [
      'a malformed date',
      ['--start', '2025-13-01'],
      {},
      /'--start <date>' argument '2025-13-01' is invalid/,
    ],
    ['an impossible date', ['--start', '2025-02-29'], {}, /YYYY-MM-DD/],
    ['--days 0', ['--days', '0'], {}, /Days must be a whole number from 1/],
    ['a negative number', ['--devices', '-2'], {}, /--devices/],
    ['a non-numeric number', ['--interval-ms', 'fast'], {}, /The interval must be a whole number/],
    ['a bad speed', ['--speed', '0'], {}, /positive number of simulated seconds/],
    ['--days with --follow', ['--days', '3', '--follow'], {}, /cannot be used with/],
    ['a bad environment value', [], { PRODUCER_DEVICES: 'many' }, /Devices must be a whole number/],
    [
      'a bad boolean variable',
      [],
      { PRODUCER_RESUME: 'perhaps' },
      /PRODUCER_RESUME must be true or false/,
    ],
    [
      'a malformed REDIS_URL',
      [],
      { REDIS_URL: 'http://localhost' },
      /REDIS_URL must start with redis:\/\//,
    ],
    ['a bad PORT', ['--follow'], { PORT: '99999' }, /PORT must be a port number/],
    // The range partition names and stream IDs can hold, at both edges and beyond.
    [
      '1970-01-01 (its first reading would be 0-0)',
      ['--start', '1970-01-01'],
      {},
      /from 1970-01-02 to 9999-12-31/,
    ],
    ['a day before 1970', ['--start', '1969-12-31'], {}, /from 1970-01-02 to 9999-12-31/],
    ['a year before 1000', [], { PRODUCER_START: '0999-12-31' }, /from 1970-01-02 to 9999-12-31/],
    ['--follow from before 1970', ['--follow', '--start', '1900-01-01'], {}, /from 1970-01-02/],
    [
      'a run past 9999-12-31',
      ['--start', '9999-12-31', '--days', '2'],
      {},
      /must end by 9999-12-31/,
    ],
    [
      'a long run past 9999-12-31',
      ['--start', '9990-01-01', '--days', '36500'],
      {},
      /must end by 9999-12-31/,
    ],
  ];

  it.each(cases)('%s: one clear line, exit 1, Redis unchanged', async (_, args, env, message) => {
    const before = await snapshotRedis(redis);
    const result = await runService('producer', args, { REDIS_URL: server.url, ...env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
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
