import { Command } from 'commander';
import { z } from 'zod';
import {
  REDIS_VARIABLES,
  httpPort,
  parsedBy,
  readSettings,
  redisClusterNodes,
  redisUrl,
  settings,
  wholeNumber,
  type Env,
} from '@temps/runtime';
import { MAX_SHARDS } from '@temps/streams';
import { parseWarehouseUrl, WarehouseConfigError, type WarehouseLocation } from '@temps/warehouse';

export interface AveragesConfig {
  port: number;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: more cluster nodes to start from (`host:port`). */
  redisClusterNodes?: string[];
  /** Yellow lines, as in the seed: on a terminal (or with FORCE_COLOR), never with NO_COLOR. */
  color: boolean;
  /** `WAREHOUSE_URL`: where every hourly average is stored; null (unset) stores nothing. */
  warehouse: WarehouseLocation | null;
  /**
   * `PRODUCER_SHARDS`: the lanes the producers write (null: the exercise's layout). With lanes the
   * reader keeps its position in `averages_consumer_state{temps:averages}`, beside temps:averages.
   */
  shards: number | null;
}

/** Every averages setting but the colour, from the environment (README: "The warehouse"). */
export const AVERAGES_SETTINGS = settings(
  z
    .object({
      PORT: httpPort(3003),
      ...REDIS_VARIABLES,
      WAREHOUSE_URL: parsedBy(parseWarehouseUrl, WarehouseConfigError).optional(),
      PRODUCER_SHARDS: wholeNumber(1, MAX_SHARDS, 'PRODUCER_SHARDS (lanes)').optional(),
    })
    .transform((s, ctx) => ({
      port: s.PORT,
      redisUrl: redisUrl(s, ctx),
      redisClusterNodes: redisClusterNodes(s, ctx),
      warehouse: s.WAREHOUSE_URL ?? null,
      shards: s.PRODUCER_SHARDS ?? null,
    })),
);

/**
 * The averages consumer takes no arguments (`argv` without node and the script), only its
 * environment; `stdout` says whether it is a terminal. Reads nothing but its arguments.
 */
export function parseAveragesConfig(
  argv: readonly string[],
  env: Env,
  stdout: { isTTY?: boolean } = {},
): AveragesConfig {
  const program = new Command('averages').description(
    'Prints the hourly averages from temps:averages as they arrive.',
  );
  // The colour conventions are not settings: FORCE_COLOR set to '' still forces colour.
  const color =
    !env.NO_COLOR &&
    (Boolean(stdout.isTTY) || (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0'));
  return { ...readSettings(AVERAGES_SETTINGS, { program }, argv, env), color };
}
