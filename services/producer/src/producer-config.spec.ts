import fc from 'fast-check';
import { ConfigError, type Env } from '@temps/runtime';
import { parseProducerConfig } from './producer-config';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

function refusal(argv: string[], env: Env = {}): string {
  try {
    parseProducerConfig(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify([argv, env])}`);
}

/** The line for a bad option value, as the command line or the environment gave it. */
function badValue(flags: string, variable: string, raw: string, reason: string) {
  return {
    cli: `option '${flags}' argument '${raw}' is invalid. ${reason}`,
    env: `option '${flags}' value '${raw}' from env '${variable}' is invalid. ${reason}`,
  };
}

describe('parseProducerConfig', () => {
  it('defaults every option', () => {
    expect(parseProducerConfig([], {})).toEqual({
      start: JAN_1_2025,
      days: 10,
      intervalMs: 1_000,
      devices: 1,
      seed: null,
      speed: 'max',
      resume: false,
      port: 3001,
      redisUrl: 'redis://localhost:6379',
      redisClusterNodes: [],
      waitReplicas: 0,
      explicit: new Set(),
    });
  });

  it('takes every option from the command line or from its variable, and notes which were set', () => {
    const argv = [
      ...['--start', '2030-02-03', '--days', '2', '--interval-ms', '500'],
      ...['--devices', '3', '--seed', '7', '--speed', '3600', '--resume'],
    ];
    const env = {
      PRODUCER_START: '2030-02-03',
      PRODUCER_DAYS: '2',
      PRODUCER_INTERVAL_MS: '500',
      PRODUCER_DEVICES: '3',
      PRODUCER_SEED: '7',
      PRODUCER_SPEED: '3600',
      PRODUCER_RESUME: 'true',
      PORT: '4001',
      REDIS_URL: 'redis://r:6380/1',
    };
    const expected = {
      start: Date.UTC(2030, 1, 3),
      days: 2,
      intervalMs: 500,
      devices: 3,
      seed: 7,
      speed: 3600,
      resume: true,
      explicit: new Set(['start', 'days', 'intervalMs', 'devices', 'seed', 'speed']),
    };
    const { PORT, REDIS_URL } = env;
    expect(parseProducerConfig(argv, { PORT, REDIS_URL })).toEqual({
      ...expected,
      port: 4001,
      redisUrl: 'redis://r:6380/1',
      redisClusterNodes: [],
      waitReplicas: 0,
    });
    expect(parseProducerConfig([], env)).toEqual({
      ...expected,
      port: 4001,
      redisUrl: 'redis://r:6380/1',
      redisClusterNodes: [],
      waitReplicas: 0,
    });
  });

  it.each([
    ['--start', 'PRODUCER_START', '2030-01-01', '2031-01-01', 'start', Date.UTC(2030, 0, 1)],
    ['--days', 'PRODUCER_DAYS', '4', '5', 'days', 4],
    ['--interval-ms', 'PRODUCER_INTERVAL_MS', '250', '500', 'intervalMs', 250],
    ['--devices', 'PRODUCER_DEVICES', '2', '9', 'devices', 2],
    ['--seed', 'PRODUCER_SEED', '11', '12', 'seed', 11],
    ['--speed', 'PRODUCER_SPEED', '60', 'max', 'speed', 60],
  ])(
    '%s beats %s, whose value is then not even checked',
    (flag, variable, cli, env, key, value) => {
      expect(parseProducerConfig([flag, cli], { [variable]: env })).toMatchObject({ [key]: value });
      expect(parseProducerConfig([flag, cli], { [variable]: 'nonsense' })).toMatchObject({
        [key]: value,
      });
    },
  );

  it('--follow and --resume beat their variables, which otherwise say true or false', () => {
    expect(
      parseProducerConfig(['--follow', '--resume'], {
        PRODUCER_FOLLOW: 'false',
        PRODUCER_RESUME: 'perhaps',
      }),
    ).toMatchObject({ days: null, resume: true });
    for (const [raw, value] of [
      ['true', true],
      ['TRUE', true],
      [' yes ', true],
      ['1', true],
      ['false', false],
      ['No', false],
      ['0', false],
    ] as const) {
      expect(parseProducerConfig([], { PRODUCER_RESUME: raw }).resume).toBe(value);
      expect(parseProducerConfig([], { PRODUCER_FOLLOW: raw }).days).toBe(value ? null : 10);
    }
  });

  it('counts a variable set to the empty string as unset', () => {
    const empty = Object.fromEntries(
      ['START', 'DAYS', 'FOLLOW', 'INTERVAL_MS', 'DEVICES', 'SEED', 'SPEED', 'RESUME']
        .map((name) => [`PRODUCER_${name}`, ''])
        .concat([
          ['PORT', ''],
          ['REDIS_URL', ''],
          ['REDIS_PORT', ''],
        ]),
    );
    expect(parseProducerConfig([], empty)).toEqual(parseProducerConfig([], {}));
    // So an empty PRODUCER_DAYS does not conflict with --follow.
    expect(parseProducerConfig(['--follow'], { PRODUCER_DAYS: '' }).days).toBeNull();
  });

  it('but an empty value on the command line is refused', () => {
    expect(refusal(['--days', ''])).toBe(
      "option '--days <n>' argument '' is invalid. Days must be a whole number from 1 to 36500.",
    );
  });

  it('--start now stays "now" (the run starts at the current second)', () => {
    expect(parseProducerConfig(['--start', 'now'], {})).toMatchObject({
      start: 'now',
      explicit: new Set(['start']),
    });
  });

  it('--follow runs forever, serves HTTP, and counts as setting --days', () => {
    expect(parseProducerConfig(['--follow'], {})).toMatchObject({
      days: null,
      explicit: new Set(['days']),
    });
    expect(parseProducerConfig(['--follow', '--start', '9999-12-31'], {}).days).toBeNull();
  });

  describe.each([
    ['--days', 'PRODUCER_DAYS', 'Days', 1, 36_500],
    ['--interval-ms', 'PRODUCER_INTERVAL_MS', 'The interval', 1, 86_400_000],
    ['--devices', 'PRODUCER_DEVICES', 'Devices', 1, 10_000],
    ['--seed', 'PRODUCER_SEED', 'The seed', 0, 4_294_967_295],
  ])('%s / %s', (flag, variable, what, min, max) => {
    const flags = `${flag} <n>`;
    const reason = `${what} must be a whole number from ${min} to ${max}.`;
    const key = {
      '--days': 'days',
      '--interval-ms': 'intervalMs',
      '--devices': 'devices',
      '--seed': 'seed',
    }[flag] as 'days' | 'intervalMs' | 'devices' | 'seed';

    it('takes any whole number in range, spaces around it allowed', () => {
      fc.assert(
        fc.property(fc.integer({ min, max }), fc.boolean(), (n, viaEnv) => {
          const raw = ` ${n} `;
          const config = viaEnv
            ? parseProducerConfig([], { [variable]: raw, PRODUCER_START: '2030-01-01' })
            : parseProducerConfig([flag, raw, '--start', '2030-01-01'], {});
          expect(config[key]).toBe(n);
        }),
      );
    });

    it('refuses any whole number out of range with the same line', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.bigInt({ min: -(10n ** 30n), max: BigInt(min) - 1n }),
            fc.bigInt({ min: BigInt(max) + 1n, max: 10n ** 30n }),
          ),
          fc.boolean(),
          (n, viaEnv) => {
            const raw = String(n);
            const line = badValue(flags, variable, raw, reason);
            expect(viaEnv ? refusal([], { [variable]: raw }) : refusal([flag, raw])).toBe(
              viaEnv ? line.env : line.cli,
            );
          },
        ),
      );
    });

    it.each(['abc', '1.5', '1e3', '0x10', '+5', 'NaN', 'Infinity', ' ', '٣', '-0'])(
      'refuses %j in one line naming the option and the range',
      (raw) => {
        const line = badValue(flags, variable, raw, reason);
        expect(refusal([flag, raw])).toBe(line.cli);
        expect(refusal([], { [variable]: raw })).toBe(line.env);
      },
    );
  });

  describe('--start / PRODUCER_START', () => {
    const flags = '--start <date>';
    const calendar = 'Expected a calendar date as YYYY-MM-DD, or "now".';
    const range =
      'Expected a day from 1970-01-02 to 9999-12-31 (stream IDs start above 0-0 at 1970-01-01T00:00:00Z; partition names have eight digits).';

    it.each([
      ['2025-13-01', calendar],
      ['2025-02-29', calendar],
      ['2025-1-1', calendar],
      ['NOW', calendar],
      [' 2025-01-01', calendar],
      ['2025-01-01T00:00:00Z', calendar],
      ['0050-01-01', calendar],
      ['1970-01-01', range],
      ['1969-12-31', range],
      ['0999-12-31', range],
    ])('refuses %j', (raw, reason) => {
      const line = badValue(flags, 'PRODUCER_START', raw, reason);
      expect(refusal(['--start', raw])).toBe(line.cli);
      expect(refusal([], { PRODUCER_START: raw })).toBe(line.env);
    });

    it('takes every calendar day from 1970-01-02 to 9999-12-31', () => {
      fc.assert(
        fc.property(
          fc.date({
            min: new Date('1970-01-02'),
            max: new Date('9999-12-31'),
            noInvalidDate: true,
          }),
          (date) => {
            const day = date.toISOString().slice(0, 10);
            const config = parseProducerConfig(['--start', day, '--follow'], {});
            expect(config.start).toBe(Date.parse(day));
          },
        ),
      );
    });

    it('refuses a run ending after 9999-12-31, whichever way start and days were set', () => {
      expect(refusal(['--start', '9999-12-31', '--days', '2'])).toBe(
        '--start + --days must end by 9999-12-31 (the last partition, temps:99991231); 2 days from 9999-12-31 end later.',
      );
      expect(refusal([], { PRODUCER_START: '9990-01-01', PRODUCER_DAYS: '36500' })).toBe(
        '--start + --days must end by 9999-12-31 (the last partition, temps:99991231); 36500 days from 9990-01-01 end later.',
      );
      expect(parseProducerConfig(['--start', '9999-12-31', '--days', '1'], {}).days).toBe(1);
    });
  });

  describe('--speed / PRODUCER_SPEED', () => {
    const reason =
      'Expected "max" or a positive number of simulated seconds per second (at most 10000000).';

    it.each([
      ['max', 'max'],
      ['0.5', 0.5],
      ['10000000', 10_000_000],
      [' 5', 5],
    ])('takes %j', (raw, speed) => {
      expect(parseProducerConfig(['--speed', raw], {}).speed).toBe(speed);
      expect(parseProducerConfig([], { PRODUCER_SPEED: raw }).speed).toBe(speed);
    });

    it.each(['MAX', '0', '0.0', '00', '.5', '1.', '-1', '1e3', 'NaN', 'Infinity', '10000000.5'])(
      'refuses %j',
      (raw) => {
        const line = badValue('--speed <max|n>', 'PRODUCER_SPEED', raw, reason);
        expect(refusal(['--speed', raw])).toBe(line.cli);
        expect(refusal([], { PRODUCER_SPEED: raw })).toBe(line.env);
      },
    );
  });

  it.each(['PRODUCER_FOLLOW', 'PRODUCER_RESUME'])('%s must say true or false', (variable) => {
    for (const raw of ['perhaps', 'on', ' ']) {
      expect(refusal([], { [variable]: raw })).toBe(
        `${variable} must be true or false, got "${raw}".`,
      );
    }
  });

  it('refuses --follow with --days, naming how each was set', () => {
    expect(refusal(['--days', '3', '--follow'])).toBe(
      "option '--follow' cannot be used with option '--days <n>'",
    );
    expect(refusal(['--follow'], { PRODUCER_DAYS: '3' })).toBe(
      "option '--follow' cannot be used with environment variable 'PRODUCER_DAYS'",
    );
    const fromEnv = '--follow (PRODUCER_FOLLOW) cannot be used with --days (PRODUCER_DAYS).';
    expect(refusal(['--days', '3'], { PRODUCER_FOLLOW: 'true' })).toBe(fromEnv);
    expect(refusal([], { PRODUCER_FOLLOW: 'yes', PRODUCER_DAYS: '3' })).toBe(fromEnv);
    expect(parseProducerConfig([], { PRODUCER_FOLLOW: 'false', PRODUCER_DAYS: '3' }).days).toBe(3);
  });

  it.each([
    [['--dayz', '3'], "unknown option '--dayz' (Did you mean --days?)"],
    [['--follow=yes'], "unknown option '--follow=yes'"],
    [['-x'], "unknown option '-x'"],
    [['--days'], "option '--days <n>' argument missing"],
    [['--days', '2', '--days'], "option '--days <n>' argument missing"],
    [['--follow', 'yes'], 'too many arguments. Expected 0 arguments but got 1.'],
  ])('refuses the command line %j as commander words it', (argv, line) => {
    expect(refusal(argv)).toBe(line);
  });

  it('takes the last of a repeated option', () => {
    expect(parseProducerConfig(['--days', '2', '--days', '3'], {}).days).toBe(3);
    expect(parseProducerConfig(['--days=4'], {}).days).toBe(4);
  });

  it('shortens a huge value it quotes back', () => {
    const huge = '9'.repeat(100_000);
    expect(refusal(['--days', huge])).toBe(
      `option '--days <n>' argument '${'9'.repeat(39)}…(100002 characters) is invalid. Days must be a whole number from 1 to 36500.`,
    );
    expect(refusal([], { PORT: huge })).toBe(
      `PORT must be a port number (1-65535), got "${'9'.repeat(39)}…(100003 characters)`,
    );
  });

  it('reads PORT and where Redis is', () => {
    expect(refusal(['--follow'], { PORT: '99999' })).toBe(
      'PORT must be a port number (1-65535), got "99999".',
    );
    expect(refusal([], { REDIS_URL: 'http://localhost' })).toBe(
      'REDIS_URL must start with redis:// or rediss://, got http://',
    );
    expect(
      parseProducerConfig([], { REDIS_HOST: 'db', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss' }),
    ).toMatchObject({ redisUrl: 'redis://:p%40ss@db:6380' });
  });

  it('prints its help, naming each option variable', () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(() => parseProducerConfig(['--help'], {})).toThrow(
        expect.objectContaining({ code: 'commander.helpDisplayed' }),
      );
      const help = write.mock.calls.map(([text]) => String(text)).join('');
      expect(help).toContain(
        '--days <n>         number of days to produce (default: 10, env: PRODUCER_DAYS)',
      );
      expect(help).toContain('PRODUCER_FOLLOW');
    } finally {
      write.mockRestore();
    }
  });

  it('reads only what it is given', () => {
    const saved = process.env.PRODUCER_DAYS;
    process.env.PRODUCER_DAYS = 'not a number';
    try {
      expect(parseProducerConfig([], {}).days).toBe(10);
    } finally {
      if (saved === undefined) delete process.env.PRODUCER_DAYS;
      else process.env.PRODUCER_DAYS = saved;
    }
  });
});
