import {
  REFUSAL_KINDS,
  ServiceProcess,
  checkPartitions,
  eventually,
  freePort,
  refuse,
  startRefusingRedis,
  type PrivateRedis,
} from '@temps/testing';
import { PRODUCER_STATE_KEY } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const HOUR_MS = 3_600_000;
const SEED = 19;

interface Health {
  status: number;
  body: string;
}

/**
 * Redis answers the producer's writes with a refusal that clears by itself — made for real on a
 * private Redis: MISCONF (a BGSAVE that cannot write), BUSY (another client's 3 s script),
 * READONLY (a FAILOVER that makes it a replica, then promoted back).
 */
describe.each(REFUSAL_KINDS)('producer --follow while Redis answers %s', (kind) => {
  let server: PrivateRedis;
  let redis: Redis;
  let producer: ServiceProcess;

  beforeEach(async () => {
    server = await startRefusingRedis();
    redis = server.client();
  });
  afterEach(async () => {
    await producer?.kill('SIGKILL');
    await server.stop();
  });

  it('keeps running, reports 503 with the reason and one line, then writes on exactly as an uninterrupted run', async () => {
    const port = await freePort();
    producer = new ServiceProcess(
      'producer',
      ['--follow', '--speed', '3600', '--seed', String(SEED), '--start', '2025-01-01'],
      { REDIS_URL: server.url, PORT: String(port) },
    );
    const health = (): Promise<Health> =>
      fetch(`http://127.0.0.1:${port}/health`).then(
        async (r) => ({ status: r.status, body: await r.text() }),
        () => ({ status: 0, body: '' }),
      );
    const watermark = async () => Number(await redis.hget(PRODUCER_STATE_KEY, 'watermark_ms'));

    await eventually(async () => (await health()).status === 200, 30_000);
    await eventually(async () => (await watermark()) > JAN_1_2025 + HOUR_MS, 20_000);

    const refusal = await refuse(server.url, kind);
    // Unhealthy, naming the refusal, while it lasts; the process goes on.
    const down = await eventually(async () => {
      const h = await health();
      return h.status === 503 && h.body.includes(`(${kind} `) ? h.body : null;
    }, 10_000);
    expect(JSON.parse(down).details.write_loop.reason).toContain(`(${kind} `);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(producer.exitCode).toBeNull();
    expect((await health()).status).toBe(503);
    await refusal.clear();

    // Goes on by itself once it clears.
    await eventually(async () => (await health()).status === 200, 20_000);
    const resumed = await watermark();
    await eventually(async () => (await watermark()) > resumed + 2 * HOUR_MS, 20_000);
    expect((await producer.kill('SIGTERM')).code).toBe(0);

    // One line while it lasted (its retries are not logged), one when it cleared.
    const output = producer.stdout + producer.stderr;
    expect(output.split('\n').filter((line) => line.includes(`(${kind} `))).toHaveLength(1);
    expect(output).toContain('Redis accepts the work again');
    // Every reading before the watermark, once, as a run with the same seed writes them.
    const untilMs = await watermark();
    const tally = await checkPartitions(
      redis,
      { startMs: JAN_1_2025, days: 3, devices: 1, seed: SEED },
      { untilMs },
    );
    expect(tally).toEqual({
      checked: (untilMs - JAN_1_2025) / 1000,
      lost: 0,
      doubled: 0,
      wrong: 0,
    });
  });
});
