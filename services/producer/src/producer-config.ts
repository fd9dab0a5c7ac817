import { Command } from 'commander';
import { z } from 'zod';
import { DAY_MS, MAX_SHARDS, PARTITION_RANGE, utcDay } from '@temps/streams';
import {
  REDIS_VARIABLES,
  conflict,
  httpPort,
  readSettings,
  redisClusterNodes,
  redisUrl,
  settings,
  trueOrFalse,
  wholeNumber,
  type Env,
  type OptionSpec,
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
  /** REDIS_CLUSTER_NODES: more cluster nodes to start from (`host:port`). */
  redisClusterNodes?: string[];
  /**
   * REDIS_WAIT_REPLICAS (lanes only; 0 or unset: off): each round of lane batches is confirmed by
   * `WAIT n` on each master written to, and a lane's `confirmed_ms` moves only over readings that
   * many replicas hold; the aggregator reads no further.
   */
  waitReplicas?: number;
  /**
   * Lanes (see libs/streams/src/lanes.ts): the devices split over this many streams per day, shared
   * by any number of producers through leases; `null` keeps the exercise's layout, one stream per
   * day and `producer_state`.
   */
  shards?: number | null;
  /** How long a lane lease lasts without renewal (ms); renewed every third of it. Unset: LEASE_MS. */
  leaseMs?: number;
  /** Options the user set (on the command line or in the environment), checked against a resumed run. */
  explicit: ReadonlySet<RunOption>;
}

export type RunOption = 'start' | 'days' | 'intervalMs' | 'devices' | 'seed' | 'speed' | 'shards';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The days a run can cover (Unix ms, end exclusive): what partition names and stream IDs hold,
 * less 1970-01-01, whose first reading would get the ID 0-0, which no stream accepts.
 */
export const RUN_RANGE = {
  startMs: PARTITION_RANGE.startMs + DAY_MS,
  endMs: PARTITION_RANGE.endMs,
};
const FIRST_DAY = utcDay(RUN_RANGE.startMs, '-');
const LAST_DAY = utcDay(RUN_RANGE.endMs - DAY_MS, '-');

/** 00:00 UTC of a real calendar day written YYYY-MM-DD (Unix ms), else undefined. */
function dayStart(raw: string): number | undefined {
  const match = DATE.exec(raw);
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  if (!match || Number.isNaN(ms) || utcDay(ms, '-') !== raw) return undefined;
  return ms;
}

const startDay = z
  .string()
  .refine((raw) => raw === 'now' || dayStart(raw) !== undefined, {
    error: 'Expected a calendar date as YYYY-MM-DD, or "now".',
    abort: true,
  })
  .transform((raw) => (raw === 'now' ? ('now' as const) : dayStart(raw)!))
  .refine((day) => day === 'now' || (day >= RUN_RANGE.startMs && day < RUN_RANGE.endMs), {
    error: `Expected a day from ${FIRST_DAY} to ${LAST_DAY} (stream IDs start above 0-0 at 1970-01-01T00:00:00Z; partition names have eight digits).`,
  });

const speed = z
  .string()
  .refine(
    (raw) =>
      raw === 'max' ||
      (/^\d+(\.\d+)?$/.test(raw.trim()) && Number(raw) > 0 && Number(raw) <= 10_000_000),
    {
      error:
        'Expected "max" or a positive number of simulated seconds per second (at most 10000000).',
    },
  )
  .transform((raw) => (raw === 'max' ? ('max' as const) : Number(raw)));

/** The default lane lease (ms): see DEFAULTS. */
export const LEASE_MS = 5_000;

const DEFAULTS = {
  start: Date.UTC(2025, 0, 1),
  days: 10,
  intervalMs: 1_000,
  devices: 1,
  // Renewed every lease/3, a lease survives two missed renewals (longer than a GC pause); a dead
  // producer's lanes stall for at most lease + one renewal period (about 6.7 s).
  leaseMs: LEASE_MS,
};

const OPTIONS: OptionSpec[] = [
  {
    variable: 'PRODUCER_START',
    flags: '--start <date>',
    description: 'first simulated day, YYYY-MM-DD or "now"',
    shownDefault: DEFAULTS.start,
    shownDefaultDescription: utcDay(DEFAULTS.start, '-'),
  },
  {
    variable: 'PRODUCER_DAYS',
    flags: '--days <n>',
    description: 'number of days to produce',
    shownDefault: DEFAULTS.days,
  },
  {
    variable: 'PRODUCER_FOLLOW',
    flags: '--follow',
    description: 'produce forever instead of a fixed number of days',
  },
  {
    variable: 'PRODUCER_INTERVAL_MS',
    flags: '--interval-ms <n>',
    description: 'simulated milliseconds between readings of a device',
    shownDefault: DEFAULTS.intervalMs,
  },
  {
    variable: 'PRODUCER_DEVICES',
    flags: '--devices <n>',
    description: 'number of simulated devices (with --shards and without this: one per lane)',
    shownDefault: DEFAULTS.devices,
  },
  {
    variable: 'PRODUCER_SEED',
    flags: '--seed <n>',
    description: 'random seed; the same seed gives identical readings',
  },
  {
    variable: 'PRODUCER_SPEED',
    flags: '--speed <max|n>',
    description: 'simulated seconds per real second',
    shownDefault: 'max',
  },
  {
    variable: 'PRODUCER_SHARDS',
    flags: '--shards <n>',
    description: `lanes: split the devices over n streams per day (1 … ${MAX_SHARDS}, at most the devices), shared by any number of producers`,
  },
  {
    variable: 'PRODUCER_LEASE_MS',
    flags: '--lease-ms <n>',
    description: 'with --shards: how long a lane stays with a producer that stops renewing (ms)',
    shownDefault: DEFAULTS.leaseMs,
  },
  {
    variable: 'PRODUCER_RESUME',
    flags: '--resume',
    description: 'continue the last run where it stopped instead of resetting',
  },
];

/** Every producer setting, from the environment and the command line (README: "The producer"). */
export const PRODUCER_SETTINGS = settings(
  z
    .object({
      PRODUCER_START: startDay.optional(),
      PRODUCER_DAYS: wholeNumber(1, 36_500, 'Days').optional(),
      PRODUCER_INTERVAL_MS: wholeNumber(1, 86_400_000, 'The interval').optional(),
      PRODUCER_DEVICES: wholeNumber(1, 10_000, 'Devices').optional(),
      PRODUCER_SEED: wholeNumber(0, 4_294_967_295, 'The seed').optional(),
      PRODUCER_SPEED: speed.optional(),
      PRODUCER_SHARDS: wholeNumber(1, MAX_SHARDS, 'Shards').optional(),
      PRODUCER_LEASE_MS: wholeNumber(1_000, 60_000, 'The lease').optional(),
      REDIS_WAIT_REPLICAS: wholeNumber(0, 16, 'Replicas to wait for').optional(),
      PRODUCER_FOLLOW: trueOrFalse('PRODUCER_FOLLOW'),
      PRODUCER_RESUME: trueOrFalse('PRODUCER_RESUME'),
      PORT: httpPort(3001),
      ...REDIS_VARIABLES,
    })
    .transform((s, ctx): ProducerConfig => {
      const given = {
        start: s.PRODUCER_START,
        days: s.PRODUCER_DAYS,
        intervalMs: s.PRODUCER_INTERVAL_MS,
        devices: s.PRODUCER_DEVICES,
        seed: s.PRODUCER_SEED,
        speed: s.PRODUCER_SPEED,
        shards: s.PRODUCER_SHARDS,
      };
      const explicit = new Set(
        (Object.keys(given) as RunOption[]).filter((name) => given[name] !== undefined),
      );
      const follow = s.PRODUCER_FOLLOW;
      if (follow && explicit.has('days')) {
        ctx.addIssue(conflict('PRODUCER_FOLLOW', 'PRODUCER_DAYS'));
        return z.NEVER;
      }
      if (follow) explicit.add('days');
      const shards = given.shards ?? null;
      // With lanes and no --devices, one device per lane: every lane carries at least one.
      const devices = given.devices ?? shards ?? DEFAULTS.devices;
      // Resuming without --devices, the saved run's device count applies: checked against it then.
      if (
        shards !== null &&
        shards > devices &&
        (!s.PRODUCER_RESUME || given.devices !== undefined)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['PRODUCER_SHARDS'],
          message: `Shards must be at most the number of devices (${devices}): every lane carries at least one device.`,
        });
        return z.NEVER;
      }
      if (shards === null && (s.REDIS_WAIT_REPLICAS ?? 0) > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['REDIS_WAIT_REPLICAS'],
          message:
            'REDIS_WAIT_REPLICAS needs lanes (PRODUCER_SHARDS): the confirmed mark it moves is kept per lane.',
        });
        return z.NEVER;
      }
      const start = given.start ?? DEFAULTS.start;
      const days = given.days ?? DEFAULTS.days;
      const startMs = start === 'now' ? Date.now() : start;
      if (!follow && startMs + days * DAY_MS > RUN_RANGE.endMs) {
        ctx.addIssue({
          code: 'custom',
          message: `--start + --days must end by ${LAST_DAY} (the last partition, temps:99991231); ${days} days from ${utcDay(startMs, '-')} end later.`,
        });
        return z.NEVER;
      }
      return {
        start,
        days: follow ? null : days,
        intervalMs: given.intervalMs ?? DEFAULTS.intervalMs,
        devices,
        seed: given.seed ?? null,
        speed: given.speed ?? 'max',
        resume: s.PRODUCER_RESUME,
        port: s.PORT,
        redisUrl: redisUrl(s, ctx),
        redisClusterNodes: redisClusterNodes(s, ctx),
        waitReplicas: s.REDIS_WAIT_REPLICAS ?? 0,
        // Left out (undefined) unless set: the default layout's config is the exercise's own.
        shards: shards ?? undefined,
        leaseMs: s.PRODUCER_LEASE_MS,
        explicit,
      };
    }),
);

/**
 * Parses and validates the command line (`argv` without node and the script) and the environment
 * (each option's variable; the command line wins); throws ConfigError with one clear line. Reads
 * nothing but its arguments.
 */
export function parseProducerConfig(argv: readonly string[], env: Env): ProducerConfig {
  const program = new Command('producer').description(
    'Writes simulated temperature readings into one Redis stream per UTC day.',
  );
  return readSettings(PRODUCER_SETTINGS, { program, options: OPTIONS }, argv, env);
}
