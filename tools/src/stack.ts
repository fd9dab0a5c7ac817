// `npm start`: the whole pipeline as local processes, with the settings of docker-compose.yml (read
// from it, so the two cannot drift apart) — the producer forever at 360x from 2025-01-01, the
// aggregator from the oldest partition, the averages reader — against REDIS_URL, else a Redis
// answering on localhost:6379, else a private redis-server started (and stopped) here with the
// compose file's Redis options. The averages service stores every hourly average in WAREHOUSE_URL,
// else in an embedded PostgreSQL (PGlite) in STACK_WAREHOUSE_DIR (default .data/warehouse), so
// nothing needs installing. A service that ends is started again, as compose's restart policy
// would (see run-together.ts); Ctrl+C stops everything.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { redactRedisUrl } from '@temps/redis';
import {
  RedisServerMissingError,
  startRedisServer,
  workspaceRoot,
  type RedisServer,
} from '@temps/runtime';
import { redactWarehouseUrl } from '@temps/warehouse';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { runTogether } from './run-together';

interface ComposeService {
  command?: string[];
  environment?: Record<string, string | null>;
}

const { PORT: _port, ...env } = process.env;
const ports = {
  producer: env.PRODUCER_PORT ?? '3001',
  aggregator: env.AGGREGATOR_PORT ?? '3002',
  averages: env.AVERAGES_PORT ?? '3003',
};

const root = workspaceRoot();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
};

/**
 * A compose service's settings for a local process: its command and environment, minus what is
 * local here. A variable listed without a value (`PRODUCER_SEED:`) is compose's pass-through from
 * the caller's environment, which the processes inherit anyway.
 */
function fromCompose(name: string, port: string): { args: string[]; env: Record<string, string> } {
  const { command = [], environment = {} } = compose.services[name];
  const { REDIS_URL: _redis, PORT: _port, WAREHOUSE_URL: _warehouse, ...settings } = environment;
  const given = Object.entries(settings).filter((entry): entry is [string, string] => {
    return entry[1] !== null;
  });
  return { args: command, env: { ...Object.fromEntries(given), PORT: port } };
}

/** The Redis options the compose file gives redis-server (append-only file, stream node settings). */
const redisOptions = (compose.services.redis.command ?? []).slice(1);

/** Whether a Redis answers PING at `url` within a second; tried once, never retried. */
async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A private redis-server with the compose file's options in a scratch folder; null if there is none. */
async function ownRedis(): Promise<RedisServer | null> {
  try {
    return await startRedisServer({ args: redisOptions });
  } catch (error) {
    if (error instanceof RedisServerMissingError) return null;
    throw error;
  }
}

async function main(): Promise<void> {
  let redisUrl = env.REDIS_URL;
  let stopRedis: () => Promise<void> = async () => undefined;
  const local = env.STACK_LOCAL_REDIS_URL ?? 'redis://localhost:6379';
  if (!redisUrl && (await answers(local))) redisUrl = local;
  if (!redisUrl) {
    const own = await ownRedis();
    if (!own) {
      process.stderr.write(
        'No Redis to use: set REDIS_URL, start a Redis on localhost:6379, or install redis-server ' +
          '(Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis).\n',
      );
      process.exit(1);
    }
    redisUrl = own.url;
    stopRedis = () => own.stop();
    process.stdout.write(`stack: started a private redis-server at ${redisUrl}\n`);
  }
  const warehouseDir = resolve(env.STACK_WAREHOUSE_DIR ?? join(root, '.data/warehouse'));
  const warehouseUrl = env.WAREHOUSE_URL || pathToFileURL(warehouseDir).href;
  process.stdout.write(
    env.WAREHOUSE_URL
      ? `stack: warehouse ${redactWarehouseUrl(env.WAREHOUSE_URL)}\n`
      : `stack: warehouse: embedded PostgreSQL (PGlite) in ${warehouseDir}\n`,
  );
  process.stdout.write(
    `stack: Redis ${redactRedisUrl(redisUrl)}; HTTP producer ${ports.producer}, aggregator ${ports.aggregator}, averages ${ports.averages}\n`,
  );

  const averages = fromCompose('averages', ports.averages);
  runTogether(
    [
      { name: 'producer', service: 'producer', ...fromCompose('producer', ports.producer) },
      { name: 'aggregator', service: 'aggregator', ...fromCompose('aggregator', ports.aggregator) },
      {
        name: 'averages',
        service: 'averages',
        args: averages.args,
        env: { ...averages.env, WAREHOUSE_URL: warehouseUrl },
      },
    ],
    {
      env: { ...env, REDIS_URL: redisUrl },
      // As compose's `restart: unless-stopped`: a service that ends is named with its exit code and
      // last line on stderr, and started again after a back-off (1 s doubling to 30 s); the others
      // go on. Each resumes from what Redis holds (the producer with --resume, the aggregator its
      // saved state), so a restart loses or repeats nothing.
      restart: 'unless-stopped',
      onExit: async (code) => {
        await stopRedis();
        process.exit(code);
      },
    },
  );
}

main().catch((error: Error) => {
  process.stderr.write(`stack: ${error.message}\n`);
  process.exit(1);
});
