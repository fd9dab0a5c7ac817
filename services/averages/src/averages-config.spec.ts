import { ConfigError, type Env } from '@temps/runtime';
import { parseAveragesConfig } from './averages-config';

function refusal(argv: string[], env: Env = {}): string {
  try {
    parseAveragesConfig(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify([argv, env])}`);
}

const FORM =
  'postgres://user[:password]@host[:port]/database (or file:///path/to/folder for an embedded PGlite)';

describe('parseAveragesConfig', () => {
  it('defaults: port 3003, local Redis, no warehouse, no colour off a terminal', () => {
    expect(parseAveragesConfig([], {})).toEqual({
      port: 3003,
      redisUrl: 'redis://localhost:6379',
      redisClusterNodes: [],
      color: false,
      warehouse: null,
      shards: null,
    });
  });

  it('reads PRODUCER_SHARDS, which moves its state beside temps:averages', () => {
    expect(parseAveragesConfig([], { PRODUCER_SHARDS: '6' }).shards).toBe(6);
    expect(parseAveragesConfig([], { PRODUCER_SHARDS: '' }).shards).toBeNull();
    expect(() => parseAveragesConfig([], { PRODUCER_SHARDS: '0' })).toThrow(
      'PRODUCER_SHARDS (lanes) must be a whole number from 1 to 256.',
    );
  });

  it('reads PORT, where Redis is and WAREHOUSE_URL (each empty counts as unset)', () => {
    expect(
      parseAveragesConfig([], {
        PORT: '4003',
        REDIS_HOST: 'r',
        REDIS_USER: 'me',
        REDIS_PASSWORD: 'p w',
        WAREHOUSE_URL: 'postgres://u:p@db:5433/temps',
      }),
    ).toMatchObject({
      port: 4003,
      redisUrl: 'redis://me:p%20w@r:6379',
      warehouse: { kind: 'postgres', url: 'postgres://u:p@db:5433/temps' },
    });
    expect(parseAveragesConfig([], { WAREHOUSE_URL: 'file:///var/lib/w' }).warehouse).toEqual({
      kind: 'pglite',
      dataDir: '/var/lib/w',
    });
    expect(parseAveragesConfig([], { PORT: '', WAREHOUSE_URL: '', REDIS_HOST: '' })).toEqual(
      parseAveragesConfig([], {}),
    );
  });

  it('takes an environment that is not a plain object, as process.env is not', () => {
    class Environment {
      [name: string]: string | undefined;
    }
    const env: Env = Object.assign(new Environment(), { PORT: '4003' });
    expect(parseAveragesConfig([], env).port).toBe(4003);
  });

  it.each([
    ['not a url', `WAREHOUSE_URL must look like ${FORM}.`],
    [
      'mysql://db/temps',
      'WAREHOUSE_URL must start with postgres://, postgresql:// or file://, got mysql://.',
    ],
    ['postgres://db', `WAREHOUSE_URL names no database; use ${FORM}.`],
    ['postgres:///temps', `WAREHOUSE_URL names no host; use ${FORM}.`],
    ['file:', `WAREHOUSE_URL names no folder; use ${FORM}.`],
  ])('refuses WAREHOUSE_URL %j in one line', (raw, line) => {
    expect(refusal([], { WAREHOUSE_URL: raw })).toBe(line);
  });

  it.each([
    [{ PORT: '65536' }, 'PORT must be a port number (1-65535), got "65536".'],
    [
      { REDIS_URL: 'redis://h/99999x' },
      `REDIS_URL's database must be a database number (0, 1, …), got "99999x"`,
    ],
    [{ REDIS_URL: 'redis://' }, 'REDIS_URL names no host'],
    [
      { REDIS_URL: 'redis://:@@@:abc' },
      'REDIS_URL must look like redis://[user:password@]host[:port][/db] (or rediss:// for TLS)',
    ],
  ])('refuses %j in one line', (env, line) => {
    expect(refusal([], env)).toBe(line);
  });

  it.each([
    [['--unknown'], "unknown option '--unknown'"],
    [['x'], 'too many arguments. Expected 0 arguments but got 1.'],
  ])('takes no arguments: %j', (argv, line) => {
    expect(refusal(argv)).toBe(line);
  });

  it.each([
    [{}, false, false],
    [{}, true, true],
    [{ FORCE_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '' }, false, true],
    [{ FORCE_COLOR: '0' }, false, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ NO_COLOR: '' }, true, true],
    [{ NO_COLOR: '1', FORCE_COLOR: '1' }, false, false],
  ])('colour with %j on a terminal %s: %s', (env, isTTY, color) => {
    expect(parseAveragesConfig([], env, { isTTY }).color).toBe(color);
  });
});
