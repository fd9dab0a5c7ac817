import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port';

/** The stream node settings of the compose stack's Redis (measured by the stream-memory test). */
export const COMPOSE_STREAM_NODE_ARGS = [
  '--stream-node-max-entries',
  '1000',
  '--stream-node-max-bytes',
  '0',
] as const;

/**
 * A redis-server on a fixed port and data directory that a fault test can stop and start again:
 * with the append-only file on (as in the compose stack), its data survives a restart.
 */
export class RestartableRedis {
  private server: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'temps-redis-faults-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<RestartableRedis> {
    const redis = new RestartableRedis(await freePort());
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        // As in the compose stack: append-only file with the default fsync every second.
        '--appendonly',
        'yes',
        ...COMPOSE_STREAM_NODE_ARGS,
      ],
      { stdio: 'ignore' },
    );
    this.server = server;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        const info = await probe.info('server');
        if (Number(/process_id:(\d+)/.exec(info)?.[1]) === server.pid) return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${this.port}`);
      } finally {
        probe.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server: SIGTERM shuts down cleanly, SIGKILL is a crash. */
  async down(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const server = this.server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill(signal);
    await exited;
  }

  async destroy(): Promise<void> {
    await this.down('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
