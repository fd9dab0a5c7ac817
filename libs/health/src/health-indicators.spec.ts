import { HealthIndicatorService } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { DependencyChecks } from './dependency-checks';
import { ServiceHealthIndicators, type HealthModuleOptions } from './health.module';
import { Heartbeat } from './heartbeat';

/** Redis is not part of these decisions: any command sent to it fails the test. */
const noRedis = new Proxy({} as Redis, {
  get: (_, command) => () => {
    throw new Error(`unexpected Redis command ${String(command)}`);
  },
});

function indicators(options: Partial<HealthModuleOptions> = {}) {
  const heartbeat = new Heartbeat();
  const dependencies = new DependencyChecks();
  const health = new ServiceHealthIndicators(
    new HealthIndicatorService(),
    heartbeat,
    dependencies,
    noRedis,
    { loop: 'work_loop', maxSilenceMs: 1_000, redisTimeoutMs: 100, ...options },
  );
  return { heartbeat, dependencies, health };
}

describe('DependencyChecks', () => {
  it('keeps one check per name, the latest registered, in registration order', () => {
    const checks = new DependencyChecks();
    const first = () => undefined;
    const second = () => undefined;
    const replaced = () => undefined;
    checks.register('warehouse', first);
    checks.register('disk', second);
    checks.register('warehouse', replaced);
    expect(checks.entries()).toEqual([
      ['warehouse', replaced],
      ['disk', second],
    ]);
  });
});

describe('ServiceHealthIndicators', () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2025, 0, 1), doNotFake: ['setTimeout'] }));
  afterEach(() => jest.useRealTimers());

  describe('the work loop', () => {
    it('is down, "not started", before its first beat', () => {
      expect(indicators().health.loopAlive()).toEqual({
        work_loop: { status: 'down', message: 'not started' },
      });
    });

    it('is up within maxSilenceMs of its last beat, and stalled after', () => {
      const { heartbeat, health } = indicators({ maxSilenceMs: 1_000 });
      heartbeat.beat();
      jest.setSystemTime(Date.now() + 1_000);
      expect(health.loopAlive()).toEqual({ work_loop: { status: 'up', lastBeatMsAgo: 1_000 } });
      jest.setSystemTime(Date.now() + 1);
      expect(health.loopAlive()).toEqual({
        work_loop: { status: 'down', message: 'stalled', lastBeatMsAgo: 1_001 },
      });
    });

    it('is down at once while blocked, with the reason cut to 200 characters', () => {
      const { heartbeat, health } = indicators();
      heartbeat.beat();
      heartbeat.blocked(`OOM ${'x'.repeat(300)}`);
      expect(health.loopAlive()).toEqual({
        work_loop: { status: 'down', message: 'blocked', reason: `OOM ${'x'.repeat(196)}` },
      });
    });
  });

  describe('registered dependencies (a fake warehouse indicator)', () => {
    it('has none unless the service registers them', () => {
      expect(indicators().health.registered()).toEqual([]);
    });

    it('reports each under its name: up while it answers, down with its one-line message', async () => {
      const { dependencies, health } = indicators();
      let failure: Error | null = null;
      dependencies.register('warehouse', async () => {
        if (failure) throw failure;
      });
      const [warehouse] = health.registered();
      await expect(warehouse()).resolves.toMatchObject({ warehouse: { status: 'up' } });
      failure = new Error('PostgreSQL at db:5432 is unreachable (ECONNREFUSED)');
      await expect(warehouse()).resolves.toMatchObject({
        warehouse: {
          status: 'down',
          message: 'PostgreSQL at db:5432 is unreachable (ECONNREFUSED)',
        },
      });
    });

    it('counts a check that does not answer within the timeout as down', async () => {
      const { dependencies, health } = indicators({ redisTimeoutMs: 50 });
      dependencies.register('warehouse', () => new Promise<void>(() => undefined));
      const [warehouse] = health.registered();
      const result = (await warehouse()) as { warehouse: { status: string; message: string } };
      expect(result.warehouse.status).toBe('down');
      expect(result.warehouse.message).toMatch(/timeout/i);
    });
  });
});
