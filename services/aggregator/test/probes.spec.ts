import { Redis } from 'ioredis';
import { RestartableRedis, ServiceProcess, eventually, freePort, runService } from '@temps/testing';

/** How many times Redis ran `command` since its statistics were last reset. */
async function calls(redis: Redis, command: string): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

const status = async (url: string) => (await fetch(url)).status;

describe('health probes and metrics scrapes never queue up during an outage', () => {
  let server: RestartableRedis;
  let running: ServiceProcess[] = [];

  beforeAll(async () => {
    server = await RestartableRedis.start();
    await runService('producer', ['--days', '1', '--seed', '9'], { REDIS_URL: server.url });
  });
  afterEach(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    running = [];
  });
  afterAll(() => server.destroy());

  async function startService(service: string, args: string[]) {
    const port = await freePort();
    const child = new ServiceProcess(service, args, { REDIS_URL: server.url, PORT: String(port) });
    running.push(child);
    const base = `http://127.0.0.1:${port}`;
    await eventually(async () => (await status(`${base}/health`)) === 200, 60_000);
    return base;
  }

  it.each([
    ['aggregator', ['temps:20250101']],
    ['averages', []],
  ])(
    '%s: Redis down, 300 probes and 100 scrapes, none of them sent on reconnect',
    async (service, args) => {
      const base = await startService(service, args);
      await server.down('SIGKILL');
      const started = Date.now();
      const answers = await Promise.all([
        ...Array.from({ length: 300 }, () => status(`${base}/health`)),
        ...Array.from({ length: 100 }, () => status(`${base}/metrics`)),
      ]);
      expect(answers.slice(0, 300).every((code) => code === 503)).toBe(true);
      expect(answers.slice(300).every((code) => code === 200)).toBe(true);
      // They fail at once rather than waiting for Redis.
      expect(Date.now() - started).toBeLessThan(5_000);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^temps_redis_up\{service="[a-z]+"\} 0$/m);

      // A fresh server process: its statistics count only what arrives after the restart.
      await server.up();
      await eventually(async () => (await status(`${base}/health`)) === 200, 30_000);
      const redis = new Redis(server.url);
      try {
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(await calls(redis, 'ping')).toBeLessThan(10);
        expect(await calls(redis, 'scan')).toBeLessThan(10);
      } finally {
        redis.disconnect();
      }
    },
  );

  it('Redis answering nothing: probes arriving meanwhile share one PING', async () => {
    const base = await startService('aggregator', ['temps:20250101']);
    const admin = new Redis(server.url);
    try {
      await admin.config('RESETSTAT');
      await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
      const answers = await Promise.all(
        Array.from({ length: 300 }, () => status(`${base}/health`)),
      );
      expect(answers.every((code) => code === 503)).toBe(true);
      await eventually(async () => (await status(`${base}/health`)) === 200, 30_000);
      expect(await calls(admin, 'ping')).toBeLessThan(10);
    } finally {
      admin.disconnect();
    }
  });
});
