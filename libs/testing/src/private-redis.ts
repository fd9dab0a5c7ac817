import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { startRedisServer, workspaceRoot, type RedisServerOptions } from '@temps/runtime';

// The launcher (`npm start`) starts its Redis the same way; the kit only adds clients and containers.
export { RedisServerMissingError } from '@temps/runtime';

/** Extra redis-server arguments (e.g. ['--requirepass', 'secret']) and a password. */
export type PrivateRedisOptions = RedisServerOptions;

/** A Redis server that belongs to one test suite: never the shared one on 6379. */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** A new client for the test's own inspection; closed by `stop()`. */
  client(): Redis;
  stop(): Promise<void>;
}

/** How tests get their Redis: `binary` (default) or `container`, from TEMPS_TEST_REDIS. */
export type TestRedisKind = 'binary' | 'container';

export function testRedisKind(env: NodeJS.ProcessEnv = process.env): TestRedisKind {
  const choice = env.TEMPS_TEST_REDIS ?? 'binary';
  if (choice === 'binary' || choice === 'container') return choice;
  throw new Error(`TEMPS_TEST_REDIS must be "binary" or "container", got "${choice}".`);
}

/** The image a compose service runs (`redis` → `redis:7.4.1-alpine`): the one tag tests use too. */
export function composeImage(service: string): string {
  const compose = parse(readFileSync(join(workspaceRoot(), 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { image?: string }>;
  };
  const image = compose.services[service]?.image;
  if (!image) throw new Error(`docker-compose.yml has no image for the ${service} service.`);
  return image;
}

/**
 * Starts a private Redis: `redis-server` from PATH on a free port with a scratch directory, or,
 * with TEMPS_TEST_REDIS=container, a testcontainers Redis of the compose file's image. The choice is
 * never made behind the user's back; a failure is one line naming it, a RedisServerMissingError if
 * there is no redis-server on PATH.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  return testRedisKind() === 'container' ? startContainer(options) : startProcess(options);
}

async function startProcess(options: PrivateRedisOptions): Promise<PrivateRedis> {
  const server = await startRedisServer(options);
  return handle(server.url, server.port, () => server.stop());
}

async function startContainer(options: PrivateRedisOptions): Promise<PrivateRedis> {
  const image = composeImage('redis');
  try {
    const { RedisContainer } = await import('@testcontainers/redis');
    let container = new RedisContainer(image);
    if (options.password) container = container.withPassword(options.password);
    if (options.args?.length) container = container.withCommand(['redis-server', ...options.args]);
    const started = await container.start();
    const port = started.getPort();
    const url = `redis://${options.password ? `:${options.password}@` : ''}${started.getHost()}:${port}`;
    return handle(url, port, async () => void (await started.stop()));
  } catch (error) {
    const first = String((error as Error).message ?? error).split('\n')[0];
    const hint = /ryuk/i.test(first)
      ? ' (set TESTCONTAINERS_RYUK_DISABLED=true where the reaper image cannot be pulled)'
      : '';
    throw new Error(`TEMPS_TEST_REDIS=container: cannot start ${image}: ${first}${hint}`);
  }
}

function handle(url: string, port: number, stopServer: () => Promise<void>): PrivateRedis {
  const clients: Redis[] = [];
  return {
    url,
    port,
    client() {
      const client = new Redis(url, { maxRetriesPerRequest: 1 });
      clients.push(client);
      return client;
    },
    async stop() {
      clients.forEach((client) => client.disconnect());
      await stopServer();
    },
  };
}
