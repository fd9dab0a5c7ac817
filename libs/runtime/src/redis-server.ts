import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port';

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. the compose file's `--appendonly yes`. */
  args?: string[];
  password?: string;
}

/** A redis-server process of our own on 127.0.0.1, in a scratch folder removed by `stop()`. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGKILLs the server (nothing of it is meant to outlive it) and removes its folder. */
  stop(): Promise<void>;
}

/** There is no `redis-server` to start (not on PATH): installing it is the fix, not retrying. */
export class RedisServerMissingError extends Error {
  override name = 'RedisServerMissingError';
}

/**
 * Starts `redis-server` from PATH on a free port of 127.0.0.1 with a scratch directory, no RDB
 * snapshots and no append-only file unless `args` say otherwise. Used by the launcher (`npm start`,
 * when no Redis is given or answering) and by the test kit. A port someone took meanwhile is retried
 * on another; a missing binary is a RedisServerMissingError at once.
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
  attempts = 3,
): Promise<RedisServer> {
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
      return startRedisServer(options, attempts - 1);
    throw error;
  }
  failed.catch(() => undefined);
  return { url, port, stop };
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
