import { Command } from 'commander';
import { parseCommandLine, portFromEnv, redisUrlSetting } from '@temps/runtime';

export interface AveragesConfig {
  port: number;
  redisUrl: string;
  /** Yellow lines, as in the seed: on a terminal (or with FORCE_COLOR), never with NO_COLOR. */
  color: boolean;
}

export function parseAveragesConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): AveragesConfig {
  parseCommandLine(
    new Command('averages').description(
      'Prints the hourly averages from temps:averages as they arrive.',
    ),
    argv,
  );
  const color =
    !env.NO_COLOR &&
    (Boolean(process.stdout.isTTY) || (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0'));
  return { port: portFromEnv(env.PORT, 3003), redisUrl: redisUrlSetting(env), color };
}
