import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { freePort } from './free-port';
import { workspaceRoot } from './service-process';

export interface PrivateRedisOptions {
  /** Extra redis-server arguments, e.g. ['--requirepass', 'secret']. */
  args?: string[];
  password?: string;
}

/** A Redis server that belongs to one test suite: never the shared one on 6379. */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** A new client for the test's own inspection; closed by `stop()`. */
  client(): Redis;
  stop(): Promise<void>;
}

/** There is no `redis-server` to start (not on PATH): installing it is the fix, not retrying. */
export class RedisServerMissingError extends Error {
  override name = 'RedisServerMissingError';
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

async function startProcess(options: PrivateRedisOptions, attempts = 3): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'temps-redis-'));
  const auth = options.password ? ['--requirepass', options.password] : [];
  const server: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...auth,
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const stop = async () => {
    // A server that never started (no redis-server) has no process to wait for.
    if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const failed = new Promise<never>((_, reject) => {
    server.once('error', (error) =>
      reject(
        new RedisServerMissingError(
          `Cannot start redis-server (install Debian's redis-server): ${error.message}`,
        ),
      ),
    );
    server.once('exit', () => reject(new Error(`redis-server exited (port ${port} taken?)`)));
  });
  const url = `redis://${options.password ? `:${options.password}@` : ''}127.0.0.1:${port}`;
  try {
    // The port was free a moment ago; make sure the server answering on it is this one.
    await Promise.race([waitUntilReady(url, server.pid), failed]);
  } catch (error) {
    await stop();
    if (attempts > 1 && !(error instanceof RedisServerMissingError))
      return startProcess(options, attempts - 1);
    throw error;
  }
  failed.catch(() => undefined);
  return handle(url, port, stop);
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

async function waitUntilReady(url: string, pid?: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      const info = await probe.info('server');
      const serving = Number(/process_id:(\d+)/.exec(info)?.[1]);
      if (pid !== undefined && serving !== pid) throw new Error(`port taken by process ${serving}`);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
}
