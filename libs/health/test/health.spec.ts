// /health and /health/live of a real Nest application against a private redis-server that the
// tests stop and freeze: what an orchestrator's readiness and liveness probes see.
import type { AddressInfo } from 'node:net';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DependencyChecks, HealthModule, Heartbeat } from '@temps/health';
import { RedisModule } from '@temps/redis';
import { startPrivateRedis, type PrivateRedis } from '@temps/testing';

const REDIS_TIMEOUT_MS = 300;

interface Report {
  status: 'ok' | 'error';
  error: Record<string, { status: string; message?: string }>;
  details: Record<string, { status: string; message?: string }>;
}

interface Running {
  redis: PrivateRedis;
  app: INestApplication;
  base: string;
  heartbeat: Heartbeat;
}

const running: Running[] = [];
afterEach(async () => {
  for (const { app, redis } of running.splice(0)) {
    await app.close();
    await redis.stop();
  }
});

/** A private Redis and an application with the health module on a free port; the loop has beaten. */
async function start(): Promise<Running> {
  const redis = await startPrivateRedis();
  @Module({
    imports: [
      RedisModule.forRoot({ url: redis.url, connectionName: 'health-test' }),
      HealthModule.forRoot({
        loop: 'work_loop',
        maxSilenceMs: 60_000,
        redisTimeoutMs: REDIS_TIMEOUT_MS,
      }),
    ],
  })
  class HealthTestApp {}
  const app = await NestFactory.create(HealthTestApp, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const heartbeat = app.get(Heartbeat);
  heartbeat.beat();
  const started = { redis, app, base: `http://127.0.0.1:${port}`, heartbeat };
  running.push(started);
  return started;
}

async function get(url: string): Promise<{ status: number; body: Report; ms: number }> {
  const began = Date.now();
  const response = await fetch(url);
  return {
    status: response.status,
    body: (await response.json()) as Report,
    ms: Date.now() - began,
  };
}

/** The redis-server's process ID, as it reports it. */
async function serverPid(redis: PrivateRedis): Promise<number> {
  const info = await redis.client().info('server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!Number.isInteger(pid)) throw new Error('redis-server reported no process_id');
  return pid;
}

describe('/health', () => {
  it('answers 200 while Redis answers PING and the work loop beats', async () => {
    const { base } = await start();
    const { status, body } = await get(`${base}/health`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      details: { redis: { status: 'up' }, work_loop: { status: 'up' } },
    });
  });

  it('answers 503 naming Redis and why once the private Redis is stopped; /health/live stays 200', async () => {
    const { base, redis } = await start();
    expect((await get(`${base}/health`)).status).toBe(200);
    await redis.stop();

    const { status, body } = await get(`${base}/health`);
    expect(status).toBe(503);
    expect(body.status).toBe('error');
    expect(Object.keys(body.error)).toEqual(['redis']);
    expect(body.error.redis.status).toBe('down');
    expect(body.error.redis.message).toEqual(expect.stringMatching(/\S/));
    expect(body.details.work_loop.status).toBe('up');
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('answers 503 within its timeout while Redis is frozen (SIGSTOP), and 200 once it runs again', async () => {
    const { base, redis } = await start();
    const pid = await serverPid(redis);
    expect((await get(`${base}/health`)).status).toBe(200);
    process.kill(pid, 'SIGSTOP');
    try {
      const { status, body, ms } = await get(`${base}/health`);
      expect(status).toBe(503);
      expect(body.error.redis).toMatchObject({
        status: 'down',
        message: expect.stringMatching(new RegExp(`timeout.*${REDIS_TIMEOUT_MS}`, 'i')),
      });
      expect(ms).toBeLessThan(REDIS_TIMEOUT_MS + 2_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect((await get(`${base}/health`)).status).toBe(200);
  });

  it('answers 503 naming the work loop when it is blocked, with the reason', async () => {
    const { base, heartbeat } = await start();
    heartbeat.blocked('OOM command not allowed when used memory > maxmemory');
    const { status, body } = await get(`${base}/health`);
    expect(status).toBe(503);
    expect(body.error).toEqual({
      work_loop: {
        status: 'down',
        message: 'blocked',
        reason: 'OOM command not allowed when used memory > maxmemory',
      },
    });
    expect(body.details.redis.status).toBe('up');
  });

  it('answers 503 naming a registered dependency with its message while it fails', async () => {
    const { base, app } = await start();
    let failure: string | null = 'PostgreSQL at db:5432 is unreachable (ECONNREFUSED)';
    app.get(DependencyChecks).register('warehouse', () => {
      if (failure) throw new Error(failure);
    });
    const down = await get(`${base}/health`);
    expect(down.status).toBe(503);
    expect(down.body.error.warehouse).toMatchObject({
      status: 'down',
      message: 'PostgreSQL at db:5432 is unreachable (ECONNREFUSED)',
    });
    failure = null;
    expect((await get(`${base}/health`)).status).toBe(200);
  });
});
