import { Command } from 'commander';
import { ConfigError, parseCommandLine, portFromEnv, redisUrlSetting } from '@temps/runtime';
import { parseWarehouseUrl, type WarehouseLocation } from '@temps/warehouse';

export interface AveragesConfig {
  port: number;
  redisUrl: string;
  /** Yellow lines, as in the seed: on a terminal (or with FORCE_COLOR), never with NO_COLOR. */
  color: boolean;
  /** `WAREHOUSE_URL`: where every hourly average is stored; null (unset) stores nothing. */
  warehouse: WarehouseLocation | null;
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
  return {
    port: portFromEnv(env.PORT, 3003),
    redisUrl: redisUrlSetting(env),
    color,
    warehouse: warehouseSetting(env.WAREHOUSE_URL),
  };
}

function warehouseSetting(raw: string | undefined): WarehouseLocation | null {
  if (raw === undefined || raw === '') return null;
  try {
    return parseWarehouseUrl(raw);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}
