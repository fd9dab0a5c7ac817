import { Client } from 'pg';
import {
  PrivatePostgres,
  checkWarehouseRows,
  eventually,
  expectedHours,
  queryRows,
  recordRow,
  startPrivateRedis,
  warehousePanelSql,
  type SimulatedRun,
  type WarehousePanelRow,
} from '@temps/testing';
import { FULL, JAN_1_2025, Pipeline, pause } from './support/pipeline';

// Ten days of one device (864,000 readings, 240 hours), paced so that temps:averages (capped at
// 120 hours) always still holds what the warehouse has not stored while PostgreSQL is down.
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 10, devices: 1, seed: 53 };
const SPEED = FULL ? 14_400 : 36_000; // 10 days in 60 s (full) or 24 s (short)
const PG_RESTARTS = FULL ? 6 : 2;

describe('warehouse faults during a 10-day run: averages consumer killed, PostgreSQL restarted', () => {
  it('ends with every hour in the table once, with the value computed from the readings', async () => {
    const redis = await startPrivateRedis();
    const pg = await PrivatePostgres.start();
    const pipeline = await Pipeline.create(redis.url, RUN, {
      WAREHOUSE_URL: pg.url(),
      PRODUCER_SPEED: String(SPEED),
    });
    let kills = 0;
    let restarts = 0;
    let unhealthySeen = 0;
    try {
      pipeline.start('producer');
      pipeline.start('aggregator');
      pipeline.start('averages');
      const producer = pipeline.process('producer')!;
      const producerDone = pipeline.expectEnd('producer');
      let finished = false;
      void producerDone.then(() => (finished = true));

      // PostgreSQL restarts spread over the run; the averages consumer SIGKILLed in between.
      const restartEveryMs = (((RUN.days * 86_400) / SPEED) * 1_000) / (PG_RESTARTS + 1);
      let nextRestart = Date.now() + restartEveryMs;
      while (!finished) {
        await pause(200, 1_200);
        if (finished) break;
        if (Date.now() >= nextRestart && restarts < PG_RESTARTS) {
          await pg.stopServer('immediate');
          // Down until the consumer says so (503), then back: a few seconds at most.
          const said = await eventually(
            async () => (await pipeline.health('averages')) === 503,
            6_000,
          ).then(
            () => true,
            () => false,
          );
          if (said) unhealthySeen++;
          await pg.startServer();
          restarts++;
          nextRestart = Date.now() + restartEveryMs;
          continue;
        }
        if (pipeline.isRunning('averages')) {
          await pipeline.kill('averages', 'SIGKILL');
          kills++;
        }
        // Killed again only once it reads (at a random moment of its work, not while it loads):
        // on a loaded machine a start can take longer than the pause, and a consumer that never
        // reads would let the capped temps:averages trim hours before they were stored.
        await pipeline
          .start('averages')
          .waitFor('Starting averages consumer', 10_000)
          .catch(() => undefined);
      }
      expect((await producerDone).code).toBe(0);
      expect(producer.exitCode).toBe(0);
      if (!pipeline.isRunning('averages')) pipeline.start('averages');

      // All 240 hours stored (the sink's position reached the last average's seq).
      await eventually(
        async () =>
          (
            await queryRows<{ last_seq: string }>(
              pg.url(),
              'select last_seq from warehouse_position',
            )
          )[0]?.last_seq === '240',
        120_000,
        250,
      ).catch(() => {
        throw new Error(`the warehouse did not reach hour 240:\n${pipeline.describe()}`);
      });
      await pipeline.stop();

      const problems: string[] = [];
      const rows = await queryRows<WarehousePanelRow>(pg.url(), warehousePanelSql());
      const tally = checkWarehouseRows(rows, expectedHours(RUN), problems);
      recordRow({
        fault: `Warehouse: averages consumer SIGKILL ×${kills}, PostgreSQL crash + restart ×${restarts}`,
        injected: kills + restarts,
        checkedIn: 'warehouse',
        ...tally,
      });
      expect(pipeline.crashes).toEqual([]);
      expect(problems.slice(0, 10)).toEqual([]);
      expect(tally).toEqual({ checked: 240, lost: 0, doubled: 0, wrong: 0 });
      expect(kills).toBeGreaterThanOrEqual(5);
      expect(restarts).toBe(PG_RESTARTS);
      expect(unhealthySeen).toBeGreaterThanOrEqual(1);
    } finally {
      await pipeline.stop();
      await pg.destroy();
      await redis.stop();
    }
  });
});

describe('a stuck warehouse during a 10-day run: hourly_averages locked by another session, PostgreSQL frozen', () => {
  it('reports it (503) within seconds each time and ends with every hour in the table once', async () => {
    const redis = await startPrivateRedis();
    const pg = await PrivatePostgres.start();
    const pipeline = await Pipeline.create(redis.url, RUN, {
      WAREHOUSE_URL: pg.url(),
      PRODUCER_SPEED: String(SPEED),
    });
    const STUCK_MS = 6_000;
    const toUnhealthy: number[] = [];
    let locks = 0;
    let freezes = 0;
    try {
      pipeline.start('producer');
      pipeline.start('aggregator');
      pipeline.start('averages');
      const producerDone = pipeline.expectEnd('producer');
      let finished = false;
      void producerDone.then(() => (finished = true));
      // Wait for the sink's first rows (the tables exist), then alternate: lock, freeze, ...
      await eventually(
        async () => (await queryRows(pg.url(), 'select 1 from warehouse_position')).length > 0,
        60_000,
        250,
      );
      while (!finished) {
        await pause(1_500, 3_000);
        if (finished) break;
        const stuckAt = Date.now();
        let release: () => Promise<void>;
        if ((locks + freezes) % 2 === 0) {
          const holder = new Client({ connectionString: pg.url() });
          await holder.connect();
          await holder.query('begin');
          await holder.query('lock table hourly_averages in access exclusive mode');
          locks++;
          release = async () => {
            await holder.query('rollback');
            await holder.end();
          };
        } else {
          pg.freeze();
          freezes++;
          release = async () => pg.thaw();
        }
        try {
          await eventually(
            async () => (await pipeline.health('averages')) === 503,
            STUCK_MS + 4_000,
            100,
          ).then(
            () => toUnhealthy.push(Date.now() - stuckAt),
            () => undefined,
          );
          await new Promise((r) => setTimeout(r, Math.max(0, stuckAt + STUCK_MS - Date.now())));
        } finally {
          await release();
        }
      }
      expect((await producerDone).code).toBe(0);
      await eventually(
        async () =>
          (
            await queryRows<{ last_seq: string }>(
              pg.url(),
              'select last_seq from warehouse_position',
            )
          )[0]?.last_seq === '240',
        120_000,
        250,
      ).catch(() => {
        throw new Error(`the warehouse did not reach hour 240:\n${pipeline.describe()}`);
      });
      await pipeline.stop();

      const problems: string[] = [];
      const rows = await queryRows<WarehousePanelRow>(pg.url(), warehousePanelSql());
      const tally = checkWarehouseRows(rows, expectedHours(RUN), problems);
      recordRow({
        fault: `Warehouse stuck ${STUCK_MS / 1000} s: hourly_averages locked ×${locks}, PostgreSQL frozen (SIGSTOP) ×${freezes}`,
        injected: locks + freezes,
        checkedIn: 'warehouse',
        ...tally,
        notes: `stuck → /health 503 after ${toUnhealthy.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}`,
      });
      expect(pipeline.crashes).toEqual([]);
      expect(problems.slice(0, 10)).toEqual([]);
      expect(tally).toEqual({ checked: 240, lost: 0, doubled: 0, wrong: 0 });
      expect(locks).toBeGreaterThanOrEqual(1);
      expect(freezes).toBeGreaterThanOrEqual(1);
      expect(toUnhealthy).toHaveLength(locks + freezes);
    } finally {
      pg.thaw();
      await pipeline.stop();
      await pg.destroy();
      await redis.stop();
    }
  });
});
