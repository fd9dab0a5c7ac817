import { Command, Option } from 'commander';
import {
  ExitRequest,
  booleanFromEnv,
  parseCommandLine,
  portFromEnv,
  redisUrlSetting,
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

/** `aggregator [partition] [--from-oldest]`; a partition that is not `temps:YYYYMMDD` is refused before anything happens. */
export function parseAggregatorConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): AggregatorConfig {
  const program = new Command('aggregator')
    .description('Turns the day partitions into hourly averages on temps:averages.')
    .argument('[partition]', 'start over from this partition, e.g. temps:20250101')
    .addOption(new Option('--from-oldest', 'without saved state, start from the oldest partition'));
  parseCommandLine(program, argv);
  const [partition] = program.processedArgs as [string | undefined];
  if (partition !== undefined && !isPartitionKey(partition)) {
    throw new ExitRequest(['Invalid stream key supplied.']);
  }
  const fromOldest =
    program.opts<{ fromOldest?: boolean }>().fromOldest === true ||
    booleanFromEnv('AGGREGATOR_FROM_OLDEST', env.AGGREGATOR_FROM_OLDEST) === true;
  return {
    partition: partition ?? null,
    fromOldest,
    port: portFromEnv(env.PORT, 3002),
    redisUrl: redisUrlSetting(env),
  };
}
