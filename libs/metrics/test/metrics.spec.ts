// /metrics of a real Nest application against a private redis-server holding partitions the tests
// create: what Prometheus scrapes, read at scrape time, so an expired partition's series go away.
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MetricsModule } from '@temps/metrics';
import { RedisModule } from '@temps/redis';
import { startPrivateRedis, type PrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';

interface Running {
  server: PrivateRedis;
  redis: Redis;
  app: INestApplication;
  base: string;
}

const running: Running[] = [];
afterEach(async () => {
  for (const { app, server } of running.splice(0)) {
    await app.close();
    await server.stop();
  }
});

/** A private Redis and an application of `service` with the metrics module on a free port. */
async function start(
  service: string,
  streamGauges: boolean,
  args: string[] = [],
): Promise<Running> {
  const server = await startPrivateRedis({ args });
  @Module({
    imports: [
      RedisModule.forRoot({ url: server.url, connectionName: 'metrics-test' }),
      MetricsModule.forRoot({ service, streamGauges }),
    ],
  })
  class MetricsTestApp {}
  const app = await NestFactory.create(MetricsTestApp, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const started = { server, redis: server.client(), app, base: `http://127.0.0.1:${port}` };
  running.push(started);
  return started;
}

/** One scrape; a scrape's Redis snapshot serves the scrapes of the next 100 ms, so wait past it. */
async function scrape(base: string): Promise<string> {
  await sleep(150);
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** Every series of `name` as `{ labels: value }`, labels in a stable order. */
function series(text: string, name: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const [, labels, value] of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm')))
    found[labels.split(',').sort().join(',')] = Number(value);
  return found;
}

const stream = (key: string) => `service="averages",stream="${key}"`;

/** A day partition with `entries` readings that expires in `ttlMs`. */
async function partition(redis: Redis, key: string, entries: number, ttlMs: number) {
  for (let i = 0; i < entries; i++) await redis.xadd(key, '*', 'temp_f', String(60 + i));
  await redis.pexpire(key, ttlMs);
}

describe('/metrics', () => {
  it("reports temps_redis_up 1 and each partition's length, time to live and memory", async () => {
    const { base, redis } = await start('averages', true);
    await partition(redis, 'temps:20250101', 3, 3_600_000);
    await partition(redis, 'temps:20250102', 5, 7_200_000);
    await redis.set('temps:garbage', 'not a partition');

    const text = await scrape(base);
    expect(series(text, 'temps_redis_up')).toEqual({ 'service="averages"': 1 });
    expect(series(text, 'temps_stream_length')).toEqual({
      [stream('temps:20250101')]: 3,
      [stream('temps:20250102')]: 5,
    });
    const ttl = series(text, 'temps_stream_ttl_seconds');
    expect(Object.keys(ttl).sort()).toEqual([stream('temps:20250101'), stream('temps:20250102')]);
    expect(ttl[stream('temps:20250101')]).toBeGreaterThan(3_500);
    expect(ttl[stream('temps:20250101')]).toBeLessThanOrEqual(3_600);
    expect(ttl[stream('temps:20250102')]).toBeGreaterThan(7_100);
    expect(ttl[stream('temps:20250102')]).toBeLessThanOrEqual(7_200);
    const memory = series(text, 'temps_stream_memory_bytes');
    expect(Object.keys(memory).sort()).toEqual([
      stream('temps:20250101'),
      stream('temps:20250102'),
    ]);
    for (const bytes of Object.values(memory)) expect(bytes).toBeGreaterThan(0);
  });

  it("reports Redis's maxmemory, 0 when it has none, and follows CONFIG SET", async () => {
    const { base, redis } = await start('averages', true, ['--maxmemory', '64mb']);
    const own = { 'service="averages"': 64 * 1024 * 1024 };
    expect(series(await scrape(base), 'temps_redis_maxmemory_bytes')).toEqual(own);
    await redis.config('SET', 'maxmemory', '0');
    expect(series(await scrape(base), 'temps_redis_maxmemory_bytes')).toEqual({
      'service="averages"': 0,
    });
    const text = await scrape(base);
    expect(series(text, 'temps_redis_memory_used_bytes')['service="averages"']).toBeGreaterThan(0);
  });

  it("drops an expired partition's and a deleted partition's series on the next scrape", async () => {
    const { base, redis } = await start('averages', true);
    await partition(redis, 'temps:20250101', 2, 3_600_000);
    await partition(redis, 'temps:20250102', 2, 3_600_000);
    await partition(redis, 'temps:20250103', 2, 3_600_000);
    expect(Object.keys(series(await scrape(base), 'temps_stream_length'))).toHaveLength(3);

    await redis.pexpire('temps:20250101', 1);
    await redis.del('temps:20250102');
    await sleep(20);
    const text = await scrape(base);
    for (const gauge of [
      'temps_stream_length',
      'temps_stream_ttl_seconds',
      'temps_stream_memory_bytes',
    ]) {
      expect({ gauge, streams: Object.keys(series(text, gauge)) }).toEqual({
        gauge,
        streams: [stream('temps:20250103')],
      });
    }
    expect(series(text, 'temps_redis_up')).toEqual({ 'service="averages"': 1 });
  });

  it('reports temps_redis_up 0 and no stream series once Redis is stopped', async () => {
    const { base, redis, server } = await start('averages', true);
    await partition(redis, 'temps:20250101', 2, 3_600_000);
    expect(series(await scrape(base), 'temps_redis_up')).toEqual({ 'service="averages"': 1 });
    await server.stop();
    const text = await scrape(base);
    expect(series(text, 'temps_redis_up')).toEqual({ 'service="averages"': 0 });
    expect(series(text, 'temps_stream_length')).toEqual({});
  });

  it('in a service that does not own the stream gauges: temps_redis_up only, 1 then 0', async () => {
    const { base, redis, server } = await start('producer', false);
    await partition(redis, 'temps:20250101', 2, 3_600_000);
    const text = await scrape(base);
    expect(series(text, 'temps_redis_up')).toEqual({ 'service="producer"': 1 });
    expect(text).not.toMatch(/^temps_stream_/m);
    await server.stop();
    expect(series(await scrape(base), 'temps_redis_up')).toEqual({ 'service="producer"': 0 });
  });
});
