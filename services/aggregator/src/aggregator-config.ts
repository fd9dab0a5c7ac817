import { Command } from 'commander';
import { z } from 'zod';
import {
  EXIT,
  REDIS_VARIABLES,
  httpPort,
  readSettings,
  redisClusterNodes,
  redisUrl,
  settings,
  trueOrFalse,
  wholeNumber,
  type Env,
} from '@temps/runtime';
import { MAX_SHARDS, isPartitionKey, partitionTag } from '@temps/streams';

export interface AggregatorConfig {
  /** Start over from this partition; otherwise resume the saved state. */
  partition: string | null;
  /** With no saved state, start from the oldest partition instead of giving up (containers). */
  fromOldest: boolean;
  /** The lanes the producers write (PRODUCER_SHARDS); null: the exercise's layout, one stream a day. */
  shards: number | null;
  /** With lanes: /health answers 503 once one lane has held the watermark back this long (ms). */
  laneStallMs: number;
  port: number;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: more cluster nodes to start from (`host:port`). */
  redisClusterNodes?: string[];
}

/** A lane holding the watermark back this long is a stall (a lane with no producer alive). */
export const DEFAULT_LANE_STALL_MS = 30_000;

/** Every aggregator setting, from the environment and the command line (README: "The consumers"). */
export const AGGREGATOR_SETTINGS = settings(
  z
    .object({
      // As in the seed: the usage line on stdout, exit 1.
      partition: z
        .string()
        .refine((key) => isPartitionKey(key) && partitionTag(key) === null, {
          error: 'Invalid stream key supplied.',
          params: EXIT,
        })
        .optional(),
      AGGREGATOR_FROM_OLDEST: trueOrFalse('AGGREGATOR_FROM_OLDEST'),
      PRODUCER_SHARDS: wholeNumber(1, MAX_SHARDS, 'PRODUCER_SHARDS (lanes)').optional(),
      AGGREGATOR_LANE_STALL_MS: wholeNumber(1_000, 86_400_000, 'AGGREGATOR_LANE_STALL_MS').default(
        DEFAULT_LANE_STALL_MS,
      ),
      PORT: httpPort(3002),
      ...REDIS_VARIABLES,
    })
    .transform((s, ctx): AggregatorConfig => ({
      partition: s.partition ?? null,
      fromOldest: s.AGGREGATOR_FROM_OLDEST,
      shards: s.PRODUCER_SHARDS ?? null,
      laneStallMs: s.AGGREGATOR_LANE_STALL_MS,
      port: s.PORT,
      redisUrl: redisUrl(s, ctx),
      redisClusterNodes: redisClusterNodes(s, ctx),
    })),
);

/**
 * `aggregator [partition] [--from-oldest] [--shards S]` (`argv` without node and the script) and its
 * environment; a partition that is not `temps:YYYYMMDD` is refused before anything happens.
 * Reads nothing but its arguments.
 */
export function parseAggregatorConfig(argv: readonly string[], env: Env): AggregatorConfig {
  const program = new Command('aggregator')
    .description('Turns the day partitions into hourly averages on temps:averages.')
    .argument('[partition]', 'start over from this partition, e.g. temps:20250101');
  const options = [
    {
      variable: 'AGGREGATOR_FROM_OLDEST',
      flags: '--from-oldest',
      description: 'without saved state, start from the oldest partition',
    },
    {
      variable: 'PRODUCER_SHARDS',
      flags: '--shards <lanes>',
      description: 'the lanes the producers write (unset: one stream a day, temps:YYYYMMDD)',
    },
    {
      variable: 'AGGREGATOR_LANE_STALL_MS',
      flags: '--lane-stall-ms <ms>',
      description: 'with lanes: unhealthy once a lane holds the watermark back this long',
    },
  ];
  return readSettings(AGGREGATOR_SETTINGS, { program, options }, argv, env);
}
