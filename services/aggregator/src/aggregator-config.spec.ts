import { ConfigError, ExitRequest, type Env } from '@temps/runtime';
import { parseAggregatorConfig } from './aggregator-config';

function refusal(argv: string[], env: Env = {}): Error {
  try {
    parseAggregatorConfig(argv, env);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`accepted ${JSON.stringify([argv, env])}`);
}

describe('parseAggregatorConfig', () => {
  it('defaults to resuming the saved state', () => {
    expect(parseAggregatorConfig([], {})).toEqual({
      partition: null,
      fromOldest: false,
      shards: null,
      laneStallMs: 30_000,
      port: 3002,
      redisUrl: 'redis://localhost:6379',
      redisClusterNodes: [],
    });
  });

  it.each(['temps:20250101', 'temps:19700101', 'temps:99991231'])('starts over from %s', (key) => {
    expect(parseAggregatorConfig([key], {}).partition).toBe(key);
  });

  it.each([
    'temps:2025',
    'temps:20251399',
    'temps:20250230',
    'temps:garbage',
    'hello',
    'temps:19691231',
    'temps:00010101',
    '',
    '9'.repeat(100_000),
  ])('refuses the partition %j as the seed does: one line on stdout, exit 1', (key) => {
    const error = refusal([key]);
    expect(error).toBeInstanceOf(ExitRequest);
    expect(error).toMatchObject({ lines: ['Invalid stream key supplied.'], code: 1 });
  });

  it('an environment variable cannot stand in for the partition', () => {
    expect(parseAggregatorConfig([], { partition: 'temps:20250101' }).partition).toBeNull();
  });

  it('--from-oldest beats AGGREGATOR_FROM_OLDEST, which otherwise says true or false', () => {
    expect(parseAggregatorConfig(['--from-oldest'], {}).fromOldest).toBe(true);
    expect(
      parseAggregatorConfig(['temps:20250101', '--from-oldest'], {
        AGGREGATOR_FROM_OLDEST: 'false',
      }),
    ).toMatchObject({ partition: 'temps:20250101', fromOldest: true });
    expect(
      parseAggregatorConfig(['--from-oldest'], { AGGREGATOR_FROM_OLDEST: 'perhaps' }).fromOldest,
    ).toBe(true);
    for (const [raw, value] of [
      ['true', true],
      ['YES', true],
      ['1', true],
      ['false', false],
      ['no', false],
      ['0', false],
      ['', false],
    ] as const) {
      expect(parseAggregatorConfig([], { AGGREGATOR_FROM_OLDEST: raw }).fromOldest).toBe(value);
    }
    for (const raw of ['perhaps', 'on', ' ']) {
      expect(refusal([], { AGGREGATOR_FROM_OLDEST: raw })).toEqual(
        new ConfigError(`AGGREGATOR_FROM_OLDEST must be true or false, got "${raw}".`),
      );
    }
  });

  it('reads PORT (empty counts as unset) and where Redis is', () => {
    expect(
      parseAggregatorConfig([], { PORT: '4002', REDIS_URL: 'rediss://u:p@r/2' }),
    ).toMatchObject({ port: 4002, redisUrl: 'rediss://u:p@r/2' });
    expect(parseAggregatorConfig([], { PORT: '', REDIS_URL: '' })).toMatchObject({
      port: 3002,
      redisUrl: 'redis://localhost:6379',
    });
    expect(refusal([], { PORT: '-1' }).message).toBe(
      'PORT must be a port number (1-65535), got "-1".',
    );
    expect(refusal([], { REDIS_PORT: 'abc' }).message).toBe(
      'REDIS_PORT must be a port number (1-65535), got "abc"',
    );
  });

  it.each([
    [['a', 'b'], 'too many arguments. Expected 1 argument but got 2.'],
    [['--frm-oldest'], "unknown option '--frm-oldest' (Did you mean --from-oldest?)"],
    [['--from-oldest=1'], "unknown option '--from-oldest=1' (Did you mean --from-oldest?)"],
  ])('refuses the command line %j as commander words it', (argv, line) => {
    expect(refusal(argv)).toEqual(new ConfigError(line));
  });

  it('reads the lanes the producers write and the lane stall limit', () => {
    expect(parseAggregatorConfig(['--shards', '6'], {})).toMatchObject({ shards: 6 });
    expect(
      parseAggregatorConfig([], { PRODUCER_SHARDS: '4', AGGREGATOR_LANE_STALL_MS: '5000' }),
    ).toMatchObject({ shards: 4, laneStallMs: 5_000 });
    // Compose passes an unset variable as '': the exercise's layout.
    expect(parseAggregatorConfig([], { PRODUCER_SHARDS: '' }).shards).toBeNull();
    for (const [argv, env] of [
      [['--shards', '0'], {}],
      [[], { PRODUCER_SHARDS: '257' }],
      [[], { PRODUCER_SHARDS: 'six' }],
      [[], { AGGREGATOR_LANE_STALL_MS: '10' }],
    ] as [string[], Record<string, string>][]) {
      expect(() => parseAggregatorConfig(argv, env)).toThrow(
        /PRODUCER_SHARDS \(lanes\) must be a whole number from 1 to 256|AGGREGATOR_LANE_STALL_MS must be/,
      );
    }
  });

  it('refuses a lane partition as the partition to start over from', () => {
    expect(() => parseAggregatorConfig(['temps:20250101:{0.3}'], {})).toThrow(
      'Invalid stream key supplied.',
    );
  });
});
