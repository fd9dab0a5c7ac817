import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import {
  PrivatePostgres,
  RestartableRedis,
  ServiceProcess,
  addSyntheticAverages,
  checkWarehouseRows,
  createScratchDatabase,
  eventually,
  freePort,
  queryRows,
  runService,
  snapshotRedis,
  startPrivateRedis,
  syntheticHours,
  warehousePanelSql,
  type PrivateRedis,
  type ScratchDatabase,
  type WarehousePanelRow,
  SYNTHETIC_START_MS,
} from '@temps/testing';
import { averageEntryId, averageFields } from '@temps/streams';
import { Warehouse, parseWarehouseUrl } from '@temps/warehouse';
import { Redis } from 'ioredis';

const MS_PER_HOUR = 3_600_000;

describe('averages reader with WAREHOUSE_URL: every hourly average stored exactly once', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let running: ServiceProcess[] = [];

  async function start(extra: NodeJS.ProcessEnv) {
    const port = await freePort();
    const child = new ServiceProcess('averages', [], {
      REDIS_URL: server.url,
      PORT: String(port),
      ...extra,
    });
    running.push(child);
    return { child, base: `http://127.0.0.1:${port}` };
  }
  const health = (base: string) =>
    fetch(`${base}/health`).then(async (r) => ({ status: r.status, body: await r.text() }));
  const metrics = (base: string) => fetch(`${base}/metrics`).then((r) => r.text());
  const metric = (text: string, name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  /** The sum of a labelled counter's series (each known label value is one, from 0); NaN if none. */
  const total = (text: string, name: string) => {
    const series = [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'gm'))];
    return series.length === 0 ? NaN : series.reduce((sum, [, value]) => sum + Number(value), 0);
  };

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterEach(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    running = [];
  });
  afterAll(() => server.stop());
  beforeEach(() => redis.flushall());

  describe('on a database created on the machine’s PostgreSQL', () => {
    let database: ScratchDatabase;
    beforeEach(async () => {
      database = await createScratchDatabase('temps_sink');
    });
    afterEach(() => database.drop());
    const panelRows = () => queryRows<WarehousePanelRow>(database.url, warehousePanelSql());

    it('SIGKILLed at random instants while hours arrive, it ends with every hour once and exact', async () => {
      const total = 2_000;
      let kills = 0;
      let added = 0;
      let child = (await start({ WAREHOUSE_URL: database.url })).child;
      while (added < total) {
        await addSyntheticAverages(redis, added, 50);
        added += 50;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 250));
        if (Math.random() < 0.6) {
          await child.kill('SIGKILL');
          kills++;
          child = (await start({ WAREHOUSE_URL: database.url })).child;
        }
      }
      await eventually(
        async () =>
          (await queryRows(database.url, 'select count(*)::int as n from hourly_averages'))[0].n ===
          total,
        60_000,
      );
      const problems: string[] = [];
      const tally = checkWarehouseRows(await panelRows(), syntheticHours(total), problems);
      expect({ kills: kills > 10, ...tally, problems: problems.slice(0, 5) }).toEqual({
        kills: true,
        checked: total,
        lost: 0,
        doubled: 0,
        wrong: 0,
        problems: [],
      });
      const [position] = await queryRows(
        database.url,
        'select last_message_id, last_seq from warehouse_position',
      );
      expect(position).toEqual({
        last_message_id: `${Date.UTC(2025, 0, 1) + (total - 1) * MS_PER_HOUR}-0`,
        last_seq: String(total),
      });
      // The exercise's line is still printed.
      expect(child.stdout).toMatch(/Average temperature for \d{4}\/\d{2}\/\d{2} at \d+ was -?\d+F/);
    });

    it("stores averages in the exercise's own format too (no seq, auto IDs), as the reader prints them", async () => {
      for (let hour = 0; hour < 24; hour++) {
        await redis.xadd(
          'temps:averages',
          '*',
          'hour',
          String(hour),
          'date',
          '2025/01/03',
          'average_temp_f',
          String(40 + hour),
          'num_observations',
          '3600',
        );
      }
      const { child } = await start({ WAREHOUSE_URL: database.url });
      await child.waitFor('Average temperature for 2025/01/03 at 23 was 63F (3600 observations).');
      await eventually(
        async () =>
          (await queryRows(database.url, 'select count(*)::int as n from hourly_averages'))[0].n ===
          24,
        20_000,
      );
      const rows = await panelRows();
      expect(
        rows.map((r) => [new Date(r.time).getTime(), r.average_temp_f, r.mean_temp_f]),
      ).toEqual(Array.from({ length: 24 }, (_, i) => [Date.UTC(2025, 0, 3, 23 - i), 63 - i, null]));
    });

    it('counts the hours trimmed from temps:averages before they could be stored', async () => {
      await addSyntheticAverages(redis, 0, 300, 120);
      const { child, base } = await start({ WAREHOUSE_URL: database.url });
      await child.waitFor(
        'Missed 180 hourly averages for the warehouse: trimmed from temps:averages (MAXLEN) before they were stored.',
      );
      await eventually(
        async () => metric(await metrics(base), 'temps_warehouse_rows_written_total') === 120,
      );
      const text = await metrics(base);
      expect(metric(text, 'temps_warehouse_missed_total')).toBe(180);
      expect(metric(text, 'temps_warehouse_lag_hours')).toBe(0);
      const tally = checkWarehouseRows(await panelRows(), syntheticHours(120, 180));
      expect(tally).toEqual({ checked: 120, lost: 0, doubled: 0, wrong: 0 });
    });

    it('follows temps:averages begun again from its start: the new values replace the old, no hour doubled', async () => {
      await addSyntheticAverages(redis, 0, 48);
      const { child } = await start({ WAREHOUSE_URL: database.url });
      await eventually(async () => (await panelRows()).length === 48);
      // The consumers restarted from a partition: temps:averages emptied, numbered from 1 again,
      // with other values for the first 24 hours.
      await redis.del('temps:averages');
      const expected = syntheticHours(48);
      const refill = redis.pipeline();
      for (let index = 0; index < 24; index++) {
        const average = {
          hourStartMs: SYNTHETIC_START_MS + index * MS_PER_HOUR,
          total: 3_600 * 10 + index,
          count: 3_600,
          min: 0,
          max: 20,
        };
        expected.set(average.hourStartMs, { total: average.total, count: average.count });
        const fields = { ...averageFields(average), seq: String(index + 1) };
        refill.xadd('temps:averages', averageEntryId(average), ...Object.entries(fields).flat());
      }
      await refill.exec();
      await child.waitFor('temps:averages was begun again; storing it from its start.');
      await eventually(
        async () => checkWarehouseRows(await panelRows(), expected).wrong === 0,
        20_000,
      );
      expect(checkWarehouseRows(await panelRows(), expected)).toEqual({
        checked: 48,
        lost: 0,
        doubled: 0,
        wrong: 0,
      });
      const [position] = await queryRows(database.url, 'select last_seq from warehouse_position');
      expect(position).toEqual({ last_seq: '24' });
    });

    it('Redis unreachable is not blamed on the warehouse: its health stays up, no write error', async () => {
      const own = await RestartableRedis.start();
      const ownClient = new Redis(own.url, { maxRetriesPerRequest: null });
      ownClient.on('error', () => undefined);
      try {
        await addSyntheticAverages(ownClient, 0, 12);
        const port = await freePort();
        const child = new ServiceProcess('averages', [], {
          REDIS_URL: own.url,
          PORT: String(port),
          WAREHOUSE_URL: database.url,
        });
        running.push(child);
        const base = `http://127.0.0.1:${port}`;
        await eventually(async () => (await panelRows()).length === 12);
        await own.down('SIGKILL');
        // The sink's reads wait for Redis to come back (the reader's, too); /health says why.
        await eventually(async () => (await health(base)).status === 503, 15_000);
        const report = JSON.parse((await health(base)).body) as {
          details: Record<string, { status: string }>;
        };
        expect(report.details.warehouse.status).toBe('up');
        expect(report.details.redis.status).toBe('down');
        expect(total(await metrics(base), 'temps_warehouse_write_errors_total')).toBe(0);
        expect(child.stdout + child.stderr).not.toMatch(/PostgreSQL at .* is unreachable/);
        await own.up();
        // An error reply from Redis (a hash where the stream was) is named as a read failure.
        await eventually(async () => (await ownClient.ping()) === 'PONG');
        await ownClient.del('temps:averages');
        await ownClient.hset('temps:averages', 'not', 'a stream');
        await child.waitFor(/Warehouse: reading temps:averages failed \(WRONGTYPE.*\); retrying/);
        const during = JSON.parse((await health(base)).body) as typeof report;
        expect(during.details.warehouse.status).toBe('up');
        expect(total(await metrics(base), 'temps_warehouse_write_errors_total')).toBe(0);
        await ownClient.del('temps:averages');
        await addSyntheticAverages(ownClient, 0, 12);
        await addSyntheticAverages(ownClient, 12, 12);
        await eventually(async () => (await panelRows()).length === 24, 30_000);
      } finally {
        ownClient.disconnect();
        await own.destroy();
      }
    });

    it('a table someone altered: one line naming it, /health 503, nothing stored until it is restored', async () => {
      await addSyntheticAverages(redis, 0, 24);
      const { child, base } = await start({ WAREHOUSE_URL: database.url });
      await eventually(async () => (await panelRows()).length === 24);
      await queryRows(
        database.url,
        'alter table hourly_averages rename column num_observations to n',
      );
      await addSyntheticAverages(redis, 24, 24);
      await child.waitFor(/not as its migrations left it \(.*num_observations.*; retrying/);
      await eventually(async () => (await health(base)).status === 503);
      expect((await health(base)).body).toMatch(
        /"error":\{"warehouse":\{"message":"[^"]*not as its migrations left it.*"status":"down"/,
      );
      expect(total(await metrics(base), 'temps_warehouse_write_errors_total')).toBeGreaterThan(0);
      const lines = child.stderr.split('\n').concat(child.stdout.split('\n'));
      expect(lines.filter((l) => l.includes('not as its migrations left it')).length).toBe(1);

      await queryRows(
        database.url,
        'alter table hourly_averages rename column n to num_observations',
      );
      await eventually(async () => (await panelRows()).length === 48, 30_000);
      await eventually(async () => (await health(base)).status === 200);
      expect(checkWarehouseRows(await panelRows(), syntheticHours(48))).toEqual({
        checked: 48,
        lost: 0,
        doubled: 0,
        wrong: 0,
      });
    });
  });

  describe('on a private PostgreSQL with a password', () => {
    let pg: PrivatePostgres;
    beforeAll(async () => {
      pg = await PrivatePostgres.start();
    });
    afterAll(() => pg?.destroy());

    it('PostgreSQL stopped and started under it: 503 meanwhile, then every hour stored once', async () => {
      await queryRows(
        pg.url(),
        'drop table if exists hourly_averages, warehouse_position, kysely_migration, kysely_migration_lock',
      );
      await addSyntheticAverages(redis, 0, 48);
      const { child, base } = await start({ WAREHOUSE_URL: pg.url() });
      await eventually(
        async () => (await queryRows(pg.url(), warehousePanelSql())).length === 48,
        30_000,
      );
      await eventually(async () => (await health(base)).status === 200);

      await pg.stopServer('immediate');
      await addSyntheticAverages(redis, 48, 48);
      await eventually(async () => (await health(base)).status === 503, 20_000);
      await child.waitFor(
        /PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres is unreachable/,
      );
      // The console does not wait for the warehouse.
      await child.waitFor('Average temperature for 2025/01/04 at 23');
      await eventually(async () => metric(await metrics(base), 'temps_warehouse_lag_hours') === 48);

      await pg.startServer();
      await eventually(
        async () => (await queryRows(pg.url(), warehousePanelSql())).length === 96,
        30_000,
      );
      await eventually(async () => (await health(base)).status === 200, 20_000);
      const rows = await queryRows<WarehousePanelRow>(pg.url(), warehousePanelSql());
      expect(checkWarehouseRows(rows, syntheticHours(96))).toEqual({
        checked: 96,
        lost: 0,
        doubled: 0,
        wrong: 0,
      });
      const text = await metrics(base);
      expect(metric(text, 'temps_warehouse_lag_hours')).toBe(0);
      expect(text).toMatch(/temps_warehouse_write_errors_total\{reason="unreachable"[^}]*\} [1-9]/);
      for (const output of [child.stdout, child.stderr, text, (await health(base)).body])
        expect(output).not.toContain(pg.password);
    });

    it('a wrong password: one line naming it, /health 503, the password nowhere', async () => {
      const wrong = 'wrong-pass-4711';
      await addSyntheticAverages(redis, 0, 5);
      const { child, base } = await start({ WAREHOUSE_URL: pg.url('postgres', wrong) });
      await child.waitFor(
        /refused the credentials .*check the user and password in WAREHOUSE_URL; retrying/,
      );
      await eventually(async () => (await health(base)).status === 503);
      const body = (await health(base)).body;
      expect(body).toContain('refused the credentials');
      await new Promise((r) => setTimeout(r, 2_000));
      const text = await metrics(base);
      expect(text).toMatch(
        /temps_warehouse_write_errors_total\{reason="authentication"[^}]*\} [2-9]/,
      );
      const said = (child.stdout + child.stderr)
        .split('\n')
        .filter((l) => l.includes('refused the credentials'));
      expect(said).toHaveLength(1);
      for (const output of [child.stdout, child.stderr, text, body])
        expect(output).not.toContain(wrong);
      expect(child.exitCode).toBeNull();
    });
  });

  it('a malformed WAREHOUSE_URL is one line and exit 1; without one nothing is stored', async () => {
    const before = await snapshotRedis(redis);
    const bad = await runService('averages', [], {
      REDIS_URL: server.url,
      WAREHOUSE_URL: 'mysql://u:hunter2@db/temps',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'averages: WAREHOUSE_URL must start with postgres://, postgresql:// or file://, got mysql://.\n',
    );
    expect(await snapshotRedis(redis)).toEqual(before);
    await addSyntheticAverages(redis, 0, 3);
    const { child, base } = await start({});
    await child.waitFor('Waiting for new messages');
    expect(child.stdout).not.toContain('Storing hourly averages');
    expect(await metrics(base)).not.toMatch(/^temps_warehouse_rows_written_total [1-9]/m);
    expect((await health(base)).body).not.toContain('warehouse');
  });

  it('with WAREHOUSE_URL=file://… it stores into an embedded PGlite in that folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'temps-sink-pglite-'));
    try {
      await addSyntheticAverages(redis, 0, 72);
      const { child, base } = await start({ WAREHOUSE_URL: `file://${dir}` });
      await child.waitFor(`Storing hourly averages in embedded PostgreSQL (PGlite) in ${dir}`);
      await eventually(
        async () => metric(await metrics(base), 'temps_warehouse_rows_written_total') === 72,
        60_000,
      );
      await child.kill('SIGTERM');
      const warehouse = Warehouse.open(parseWarehouseUrl(`file://${dir}`));
      try {
        const { rows } = await sql
          .raw<WarehousePanelRow>(warehousePanelSql())
          .execute(warehouse.db);
        expect(checkWarehouseRows(rows, syntheticHours(72))).toEqual({
          checked: 72,
          lost: 0,
          doubled: 0,
          wrong: 0,
        });
      } finally {
        await warehouse.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
