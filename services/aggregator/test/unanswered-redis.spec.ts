import { createServer, type Server, type Socket } from 'node:net';
import {
  ServiceProcess,
  eventually,
  freePort,
  runService,
  startPrivateRedis,
  type PrivateRedis,
} from '@temps/testing';
import type { Redis } from 'ioredis';

/** A server that accepts connections and never answers: a Redis hung, or a wrong port. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

const SERVICES: [string, string[]][] = [
  ['aggregator', ['temps:20250101']],
  ['aggregator', []],
  ['averages', []],
  ['producer', ['--follow']],
  ['producer', ['--days', '1']],
];

/** Sends `signal` and returns how long the process took to end, and its exit code. */
async function stopTime(child: ServiceProcess, signal: NodeJS.Signals) {
  const started = Date.now();
  const finished = await child.kill(signal);
  return { ms: Date.now() - started, code: finished.code };
}

describe('a stop request ends every service within 2 s, even while Redis does not answer', () => {
  it.each(SERVICES)(
    '%s %j, stopped while connecting to a Redis that never replies',
    async (service, args) => {
      const silent = await silentServer();
      try {
        for (const signal of ['SIGTERM', 'SIGINT'] as const) {
          const child = new ServiceProcess(service, args, {
            REDIS_URL: silent.url,
            PORT: String(await freePort()),
          });
          // Well into the connect deadline (10 s), past process start-up.
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          expect(child.exitCode).toBeNull();
          const { ms, code } = await stopTime(child, signal);
          expect(code).toBe(0);
          expect(ms).toBeLessThan(2_000);
        }
      } finally {
        await silent.close();
      }
    },
  );

  it.each(SERVICES)(
    '%s %j, stopped while it is still loading (before Nest is up)',
    async (service, args) => {
      const silent = await silentServer();
      try {
        const child = new ServiceProcess(service, args, {
          REDIS_URL: silent.url,
          PORT: String(await freePort()),
        });
        // Past Node's own start-up, well before Nest and the service have loaded (about 1 s).
        await new Promise((resolve) => setTimeout(resolve, 400));
        const { ms, code } = await stopTime(child, 'SIGTERM');
        expect({ code, stderr: child.stderr }).toEqual({ code: 0, stderr: '' });
        expect(ms).toBeLessThan(2_000);
      } finally {
        await silent.close();
      }
    },
  );

  describe('and while running, once Redis stops answering', () => {
    let server: PrivateRedis;
    let redis: Redis;
    beforeAll(async () => {
      server = await startPrivateRedis();
      redis = server.client();
      await runService('producer', ['--days', '1', '--seed', '3'], { REDIS_URL: server.url });
    });
    afterAll(() => server.stop());

    it.each([
      ['aggregator', ['temps:20250101'], 'Waiting for new messages'],
      ['averages', [], 'Waiting for new messages'],
      ['producer', ['--follow', '--start', '2025-02-01', '--speed', '3600'], 'Populating'],
    ])('%s %j', async (service, args, ready) => {
      const port = await freePort();
      const child = new ServiceProcess(service, args, {
        REDIS_URL: server.url,
        PORT: String(port),
      });
      try {
        await child.waitFor(ready, 60_000);
        await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok);
        // Every client but this one is held: their commands get no answer.
        await redis.call('CLIENT', 'PAUSE', '4000', 'ALL');
        await new Promise((resolve) => setTimeout(resolve, 1_200));
        const { ms, code } = await stopTime(child, 'SIGTERM');
        expect(code).toBe(0);
        expect(ms).toBeLessThan(2_000);
      } finally {
        await redis.call('CLIENT', 'UNPAUSE');
        await child.kill('SIGKILL');
      }
    });
  });
});
