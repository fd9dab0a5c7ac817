import { Command, InvalidArgumentError, Option } from 'commander';
import { DAY_MS, PARTITION_RANGE } from '@temps/streams';
import {
  ConfigError,
  booleanFromEnv,
  parseCommandLine,
  portFromEnv,
  redisUrlSetting,
} from '@temps/runtime';

/** Everything the producer was asked to do, validated once at start-up. */
export interface ProducerConfig {
  /** First simulated reading (Unix ms), or 'now' to start at the current second. */
  start: number | 'now';
  /** Days to produce; `null` runs forever (--follow). */
  days: number | null;
  intervalMs: number;
  devices: number;
  /** `null` picks a random seed (recorded, so a resumed run stays deterministic). */
  seed: number | null;
  /** Simulated seconds per real second; 'max' writes as fast as Redis takes it. */
  speed: number | 'max';
  resume: boolean;
  port: number;
  redisUrl: string;
  /** Options the user set (on the command line or in the environment), checked against a resumed run. */
  explicit: ReadonlySet<RunOption>;
}

export type RunOption = 'start' | 'days' | 'intervalMs' | 'devices' | 'seed' | 'speed';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function integer(min: number, max: number, what: string) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}.`);
    }
    return Number(raw);
  };
}

/**
 * The days a run can cover (Unix ms, end exclusive): what partition names and stream IDs hold,
 * less 1970-01-01, whose first reading would get the ID 0-0, which no stream accepts.
 */
export const RUN_RANGE = {
  startMs: PARTITION_RANGE.startMs + DAY_MS,
  endMs: PARTITION_RANGE.endMs,
};
const FIRST_DAY = new Date(RUN_RANGE.startMs).toISOString().slice(0, 10);
const LAST_DAY = new Date(RUN_RANGE.endMs - DAY_MS).toISOString().slice(0, 10);

function startDate(raw: string): number | 'now' {
  if (raw === 'now') return 'now';
  const match = DATE.exec(raw);
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  if (!match || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== raw) {
    throw new InvalidArgumentError('Expected a calendar date as YYYY-MM-DD, or "now".');
  }
  if (ms < RUN_RANGE.startMs || ms >= RUN_RANGE.endMs) {
    throw new InvalidArgumentError(
      `Expected a day from ${FIRST_DAY} to ${LAST_DAY} (stream IDs start above 0-0 at 1970-01-01T00:00:00Z; partition names have eight digits).`,
    );
  }
  return ms;
}

function speed(raw: string): number | 'max' {
  if (raw === 'max') return 'max';
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(value > 0) || value > 10_000_000) {
    throw new InvalidArgumentError(
      'Expected "max" or a positive number of simulated seconds per second (at most 10000000).',
    );
  }
  return value;
}

function command(): Command {
  return new Command('producer')
    .description('Writes simulated temperature readings into one Redis stream per UTC day.')
    .addOption(
      new Option('--start <date>', 'first simulated day, YYYY-MM-DD or "now"')
        .default(Date.UTC(2025, 0, 1), '2025-01-01')
        .argParser(startDate)
        .env('PRODUCER_START'),
    )
    .addOption(
      new Option('--days <n>', 'number of days to produce')
        .default(10)
        .argParser(integer(1, 36_500, 'Days'))
        .env('PRODUCER_DAYS'),
    )
    .addOption(
      new Option('--follow', 'produce forever instead of a fixed number of days').conflicts('days'),
    )
    .addOption(
      new Option('--interval-ms <n>', 'simulated milliseconds between readings of a device')
        .default(1_000)
        .argParser(integer(1, 86_400_000, 'The interval'))
        .env('PRODUCER_INTERVAL_MS'),
    )
    .addOption(
      new Option('--devices <n>', 'number of simulated devices')
        .default(1)
        .argParser(integer(1, 10_000, 'Devices'))
        .env('PRODUCER_DEVICES'),
    )
    .addOption(
      new Option('--seed <n>', 'random seed; the same seed gives identical readings')
        .argParser(integer(0, 4_294_967_295, 'The seed'))
        .env('PRODUCER_SEED'),
    )
    .addOption(
      new Option('--speed <max|n>', 'simulated seconds per real second')
        .default('max' as const)
        .argParser(speed)
        .env('PRODUCER_SPEED'),
    )
    .addOption(
      new Option('--resume', 'continue the last run where it stopped instead of resetting'),
    )
    .showSuggestionAfterError(true);
}

/**
 * Parses and validates the command line and environment; throws ConfigError with one clear line.
 * (Commander reads option variables from `process.env`; `env` supplies the rest.)
 */
export function parseProducerConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): ProducerConfig {
  const program = command();
  parseCommandLine(program, argv);
  const opts = program.opts<{
    start: number | 'now';
    days: number;
    follow?: boolean;
    intervalMs: number;
    devices: number;
    seed?: number;
    speed: number | 'max';
    resume?: boolean;
  }>();
  const explicit = new Set<RunOption>(
    (['start', 'days', 'intervalMs', 'devices', 'seed', 'speed'] as const).filter((name) =>
      ['cli', 'env'].includes(program.getOptionValueSource(name) ?? ''),
    ),
  );
  // Boolean flags: the command line can only switch them on; the environment says true or false.
  const follow =
    opts.follow === true || booleanFromEnv('PRODUCER_FOLLOW', env.PRODUCER_FOLLOW) === true;
  const resume =
    opts.resume === true || booleanFromEnv('PRODUCER_RESUME', env.PRODUCER_RESUME) === true;
  if (follow && explicit.has('days')) {
    throw new ConfigError('--follow (PRODUCER_FOLLOW) cannot be used with --days (PRODUCER_DAYS).');
  }
  if (follow) explicit.add('days');
  const startMs = opts.start === 'now' ? Date.now() : opts.start;
  if (!follow && startMs + opts.days * DAY_MS > RUN_RANGE.endMs) {
    throw new ConfigError(
      `--start + --days must end by ${LAST_DAY} (the last partition, temps:99991231); ${opts.days} days from ${new Date(startMs).toISOString().slice(0, 10)} end later.`,
    );
  }
  return {
    start: opts.start,
    days: follow ? null : opts.days,
    intervalMs: opts.intervalMs,
    devices: opts.devices,
    seed: opts.seed ?? null,
    speed: opts.speed,
    resume,
    port: portFromEnv(env.PORT, 3001),
    redisUrl: redisUrlSetting(env),
    explicit,
  };
}
