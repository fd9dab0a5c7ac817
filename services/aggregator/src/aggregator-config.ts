import { Command } from 'commander';
import { z } from 'zod';
import {
  EXIT,
  REDIS_VARIABLES,
  httpPort,
  readSettings,
  redisUrl,
  settings,
  trueOrFalse,
  type Env,
} from '@temps/runtime';
import { isPartitionKey } from '@temps/streams';

export interface AggregatorConfig {
  /** Start over from this partition; otherwise resume the saved state. */
  partition: string | null;
  /** With no saved state, start from the oldest partition instead of giving up (containers). */
  fromOldest: boolean;
  port: number;
  redisUrl: string;
}

/** Every aggregator setting, from the environment and the command line (README: "The consumers"). */
export const AGGREGATOR_SETTINGS = settings(
  z
    .object({
      // As in the seed: the usage line on stdout, exit 1.
      partition: z
        .string()
        .refine(isPartitionKey, { error: 'Invalid stream key supplied.', params: EXIT })
        .optional(),
      AGGREGATOR_FROM_OLDEST: trueOrFalse('AGGREGATOR_FROM_OLDEST'),
      PORT: httpPort(3002),
      ...REDIS_VARIABLES,
    })
    .transform((s, ctx): AggregatorConfig => ({
      partition: s.partition ?? null,
      fromOldest: s.AGGREGATOR_FROM_OLDEST,
      port: s.PORT,
      redisUrl: redisUrl(s, ctx),
    })),
);

/**
 * `aggregator [partition] [--from-oldest]` (`argv` without node and the script) and its
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
  ];
  return readSettings(AGGREGATOR_SETTINGS, { program, options }, argv, env);
}
