import fc from 'fast-check';
import { z } from 'zod';
import {
  ConfigError,
  REDIS_VARIABLES,
  commandLineOverEnvironment,
  httpPort,
  redisClusterNodes,
  redisUrl,
  trueOrFalse,
  wholeNumber,
} from './config';

const firstMessage = (result: { error?: z.ZodError }) => result.error?.issues[0].message;

describe('settings building blocks', () => {
  it('the command line wins over the environment, where an empty variable counts as unset', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('A', 'B', 'C'), fc.oneof(fc.constant(''), fc.string())),
        fc.dictionary(fc.constantFrom('A', 'B', 'C'), fc.string()),
        (env, commandLine) => {
          const merged = commandLineOverEnvironment.parse({ env, commandLine });
          for (const name of ['A', 'B', 'C']) {
            const expected = commandLine[name] ?? (env[name] === '' ? undefined : env[name]);
            expect(merged[name]).toBe(expected);
          }
        },
      ),
    );
  });

  it('a whole number in range is taken, anything else refused with the same line', () => {
    const days = wholeNumber(1, 36_500, 'Days');
    const line = 'Days must be a whole number from 1 to 36500.';
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 36_500 }), (n) => {
        expect(days.parse(String(n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.bigInt({ max: 0n }).map(String),
          fc.bigInt({ min: 36_501n }).map(String),
          fc.string().filter((raw) => !/^\s*\d+\s*$/.test(raw)),
          fc.double({ noInteger: true }).map(String),
        ),
        (raw) => {
          expect(firstMessage(days.safeParse(raw))).toBe(line);
        },
      ),
    );
  });

  it('PORT is digits naming a port; anything else is refused, quoting it', () => {
    const port = httpPort(3000);
    expect(port.parse(undefined)).toBe(3000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65_535 }), (n) => {
        expect(port.parse(String(n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 65_536 }).map(String),
          fc.integer({ max: 0 }).map(String),
          fc.string().filter((raw) => !/^\d{1,5}$/.test(raw)),
        ),
        (raw) => {
          expect(firstMessage(port.safeParse(raw))).toBe(
            `PORT must be a port number (1-65535), got "${raw}".`,
          );
        },
      ),
    );
  });

  it('a boolean says true or false, in any case, with spaces around it', () => {
    const flag = trueOrFalse('FLAG');
    expect(flag.parse(undefined)).toBe(false);
    for (const raw of ['true', ' TRUE ', '1', 'Yes']) expect(flag.parse(raw)).toBe(true);
    for (const raw of ['false', 'False', '0', 'no']) expect(flag.parse(raw)).toBe(false);
    for (const raw of ['maybe', 'constructor', ' toString ']) {
      expect(firstMessage(flag.safeParse(raw))).toBe(`FLAG must be true or false, got "${raw}".`);
    }
  });

  describe('where Redis is', () => {
    const redis = z.object(REDIS_VARIABLES).transform((v, ctx) => redisUrl(v, ctx));

    it('REDIS_URL wins; else the pieces; else localhost', () => {
      expect(redis.parse({ REDIS_URL: 'redis://a:1/2', REDIS_HOST: 'b', REDIS_PORT: 'x' })).toBe(
        'redis://a:1/2',
      );
      expect(
        redis.parse({
          REDIS_HOST: 'b',
          REDIS_PORT: '6380',
          REDIS_USER: 'u',
          REDIS_PASSWORD: 'p/w',
        }),
      ).toBe('redis://u:p%2Fw@b:6380');
      expect(redis.parse({})).toBe('redis://localhost:6379');
    });

    it.each([
      [{ REDIS_URL: 'http://h' }, 'REDIS_URL must start with redis:// or rediss://, got http://'],
      [{ REDIS_URL: 'redis://' }, 'REDIS_URL names no host'],
      [
        { REDIS_URL: 'redis://h/1234567' },
        `REDIS_URL's database must be a database number (0, 1, …), got "1234567"`,
      ],
      [{ REDIS_PORT: '0' }, 'REDIS_PORT must be a port number (1-65535), got "0"'],
    ])('refuses %j in one line', (variables, line) => {
      expect(firstMessage(redis.safeParse(variables))).toBe(line);
    });

    const seeds = z.object(REDIS_VARIABLES).transform((v, ctx) => redisClusterNodes(v, ctx));

    it('REDIS_CLUSTER_NODES lists host:port seeds separated by commas (spaces and empties ignored)', () => {
      expect(seeds.parse({})).toEqual([]);
      expect(seeds.parse({ REDIS_CLUSTER_NODES: '' })).toEqual([]);
      expect(seeds.parse({ REDIS_CLUSTER_NODES: ' redis-2:6379, 10.0.0.7:7001 ,' })).toEqual([
        'redis-2:6379',
        '10.0.0.7:7001',
      ]);
    });

    it.each(['redis-2', 'redis-2:0', 'redis-2:65536', 'redis://redis-2:6379', 'a b:1', ':6379'])(
      'refuses REDIS_CLUSTER_NODES entry %j in one line, quoting it',
      (node) => {
        expect(firstMessage(seeds.safeParse({ REDIS_CLUSTER_NODES: `h:1,${node}` }))).toBe(
          `REDIS_CLUSTER_NODES must list host:port pairs separated by commas, got "${node}"`,
        );
      },
    );
  });

  it('ConfigError shortens a long value it quotes back', () => {
    expect(new ConfigError(`got "${'x'.repeat(100)}".`).message).toBe(
      `got "${'x'.repeat(39)}…(103 characters)`,
    );
  });
});
