import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { Warehouse, folderLockFile, parseWarehouseUrl } from '@temps/warehouse';
import { Client } from 'pg';
import { Redis } from 'ioredis';

const MS_PER_HOUR = 3_600_000;

/** Lines of a child's output (stdout and stderr) that match `pattern`. */
const linesMatching = (child: ServiceProcess, pattern: RegExp) =>
  (child.stdout + '\n' + child.stderr).split('\n').filter((line) => pattern.test(line));

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

    it('sets aside each entry the table cannot hold, once, and stores everything around and after it', async () => {
      const seed = (hour: number, date = '2025/01/03', extra: Record<string, string> = {}) => ({
        hour: String(hour),
        date,
        average_temp_f: String(40 + hour),
        num_observations: '3600',
        ...extra,
      });
      // One member each of the kind: a value the exercise's format allows but the table cannot hold.
      const entries: [Record<string, string>, string | null][] = [
        [seed(0), null],
        [
          { ...seed(1), average_temp_f: '3000000000' },
          'average_temp_f 3000000000 is outside -2147483648…2147483647',
        ],
        [seed(2), null],
        [seed(3, '2025/02/30'), 'date 2025/02/30 is not a day of the calendar'],
        [seed(24), 'hour 24 is outside 0…23'],
        [
          { ...seed(5), num_observations: '2147483648' },
          'num_observations 2147483648 is outside 1…2147483647',
        ],
        [
          { ...seed(6), mean_temp_f: '9'.repeat(131_073), min_temp_f: '1', max_temp_f: '2' },
          "mean_temp_f 9999999999999999… (131073 characters) has more digits than PostgreSQL's numeric holds",
        ],
        [
          { ...seed(7), average_temp_f: '-3000000000', note: 'NUL\u0000here' },
          'average_temp_f -3000000000 is outside -2147483648…2147483647',
        ],
        // Not poison: a NUL byte in an extra field is stored like any other average.
        [seed(8, '2025/01/03', { note: 'NUL\u0000here' }), null],
        [seed(23), null],
      ];
      const ids: string[] = [];
      for (const [fields] of entries)
        ids.push((await redis.xadd('temps:averages', '*', ...Object.entries(fields).flat()))!);
      const poison = entries.flatMap(([, reason], i) => (reason ? [[ids[i], reason]] : []));
      const { child, base } = await start({ WAREHOUSE_URL: database.url });
      await eventually(
        async () => metric(await metrics(base), 'temps_warehouse_set_aside_total') === 6,
        30_000,
      );
      // Nothing after a bad entry waits: later entries are stored too.
      const late = await redis.xadd('temps:averages', '*', ...Object.entries(seed(9)).flat());
      await eventually(async () => (await panelRows()).length === 5, 20_000);
      expect((await panelRows()).map((r) => r.average_temp_f).sort()).toEqual([40, 42, 48, 49, 63]);
      const kept = await queryRows<{ message_id: string; fields: string[][]; reason: string }>(
        database.url,
        'select message_id, fields, reason from set_aside_averages order by message_id',
      );
      expect(kept.map((r) => [r.message_id, r.reason])).toEqual(poison);
      expect(kept[0].fields).toEqual(Object.entries(entries[1][0]));
      expect(kept[5].fields).toContainEqual(['note', 'NUL\uFFFDhere']);
      const [position] = await queryRows(
        database.url,
        'select last_message_id from warehouse_position',
      );
      expect(position).toEqual({ last_message_id: late });
      const text = await metrics(base);
      expect(metric(text, 'temps_warehouse_set_aside_total')).toBe(6);
      expect(metric(text, 'temps_warehouse_up')).toBe(1);
      expect(total(text, 'temps_warehouse_write_errors_total')).toBe(0);
      expect((await health(base)).status).toBe(200);
      // Each said once with its ID and reason, by the sink and (skipping it) by the reader alike.
      for (const [id, reason] of poison) {
        expect(linesMatching(child, new RegExp(`Set aside temps:averages entry ${id}: `))).toEqual([
          expect.stringContaining(
            `Set aside temps:averages entry ${id}: ${reason}; it is kept in set_aside_averages`,
          ),
        ]);
        expect(linesMatching(child, new RegExp(`Skipping temps:averages entry ${id}: `))).toEqual([
          expect.stringContaining(`Skipping temps:averages entry ${id}: ${reason}.`),
        ]);
      }
      // The reader prints exactly the hours the warehouse stores.
      expect(
        linesMatching(child, /Average temperature for/).map((l) => /at (\d+) was/.exec(l)![1]),
      ).toEqual(['0', '2', '8', '23', '9']);
      expect(metric(text, 'temps_averages_malformed_total')).toBe(6);
    });

    it('an entry only the database refuses (a limit the shared rule does not know) is set aside with the database’s reason; the rest of its batch is stored', async () => {
      const { child, base } = await start({ WAREHOUSE_URL: database.url });
      await child.waitFor('Storing hourly averages');
      await eventually(async () => (await health(base)).status === 200, 20_000);
      // Someone narrowed a column: 40,000 °F now fits the rule but not the table.
      await queryRows(
        database.url,
        'alter table hourly_averages alter column average_temp_f type smallint',
      );
      const pipeline = redis.pipeline();
      const expected = new Map<number, { total: number; count: number }>();
      let badId = '';
      for (let index = 0; index < 100; index++) {
        const hourStartMs = SYNTHETIC_START_MS + index * MS_PER_HOUR;
        const mean = index === 57 ? 40_000 : 50 + (index % 9);
        const average = { hourStartMs, total: mean, count: 1, min: mean, max: mean };
        if (index === 57) badId = averageEntryId(average);
        else expected.set(hourStartMs, { total: mean, count: 1 });
        const fields = { ...averageFields(average), seq: String(index + 1) };
        pipeline.xadd('temps:averages', averageEntryId(average), ...Object.entries(fields).flat());
      }
      await pipeline.exec();
      await eventually(
        async () => metric(await metrics(base), 'temps_warehouse_set_aside_total') === 1,
        30_000,
      );
      await eventually(async () => (await panelRows()).length === 99, 20_000);
      expect(checkWarehouseRows(await panelRows(), expected)).toEqual({
        checked: 99,
        lost: 0,
        doubled: 0,
        wrong: 0,
      });
      const kept = await queryRows<{ message_id: string; reason: string }>(
        database.url,
        'select message_id, reason from set_aside_averages',
      );
      expect(kept).toEqual([{ message_id: badId, reason: 'smallint out of range' }]);
      expect(linesMatching(child, /Set aside temps:averages entry/)).toEqual([
        expect.stringContaining(`Set aside temps:averages entry ${badId}: smallint out of range;`),
      ]);
      const [position] = await queryRows(database.url, 'select last_seq from warehouse_position');
      expect(position).toEqual({ last_seq: '100' });
      expect(metric(await metrics(base), 'temps_warehouse_missed_total')).toBe(0);
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

    /** Starts a sink on fresh tables with 24 hours stored, and returns it. */
    async function storing24() {
      await queryRows(
        pg.url(),
        'drop table if exists hourly_averages, warehouse_position, set_aside_averages, kysely_migration, kysely_migration_lock',
      );
      await addSyntheticAverages(redis, 0, 24);
      const sink = await start({ WAREHOUSE_URL: pg.url() });
      await eventually(
        async () => (await queryRows(pg.url(), warehousePanelSql())).length === 24,
        30_000,
      );
      await eventually(async () => (await health(sink.base)).status === 200);
      return sink;
    }

    /** Polls /health every 100 ms until 503; how long that took from `since`. */
    async function until503(base: string, since: number): Promise<number> {
      await eventually(async () => (await health(base)).status === 503, 20_000, 100);
      return Date.now() - since;
    }

    it('hourly_averages locked by another session for 15 s: /health 503 naming it within seconds, one line, then every hour stored once', async () => {
      const { child, base } = await storing24();
      const holder = new Client({ connectionString: pg.url() });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('lock table hourly_averages in access exclusive mode');
        const lockedAt = Date.now();
        await addSyntheticAverages(redis, 24, 24);
        const took = await until503(base, lockedAt);
        process.stdout.write(`table locked → /health 503 after ${took} ms\n`);
        expect(took).toBeLessThan(5_000);
        expect((await health(base)).body).toMatch(
          /"warehouse":\{"message":"PostgreSQL at postgres:\/\/postgres:\*\*\*@[^"]*: storing 24 hours in hourly_averages waited more than 2 s for a lock another session holds/,
        );
        expect(metric(await metrics(base), 'temps_warehouse_up')).toBe(0);
        await new Promise((r) => setTimeout(r, Math.max(0, lockedAt + 15_000 - Date.now())));
        expect(linesMatching(child, /waited more than 2 s for a lock/)).toHaveLength(1);
        await holder.query('rollback');
      } finally {
        await holder.end();
      }
      await eventually(
        async () => (await queryRows(pg.url(), warehousePanelSql())).length === 48,
        30_000,
      );
      await eventually(async () => (await health(base)).status === 200, 20_000);
      const rows = await queryRows<WarehousePanelRow>(pg.url(), warehousePanelSql());
      expect(checkWarehouseRows(rows, syntheticHours(48))).toEqual({
        checked: 48,
        lost: 0,
        doubled: 0,
        wrong: 0,
      });
      expect(metric(await metrics(base), 'temps_warehouse_up')).toBe(1);
      expect(await metrics(base)).toMatch(
        /temps_warehouse_write_errors_total\{reason="timeout"[^}]*\} [1-9]/,
      );
    });

    it('PostgreSQL frozen (SIGSTOP) for 10 s: /health 503 naming it within seconds, one line, then every hour stored once', async () => {
      const { child, base } = await storing24();
      pg.freeze();
      const frozenAt = Date.now();
      try {
        await addSyntheticAverages(redis, 24, 24);
        const took = await until503(base, frozenAt);
        process.stdout.write(`server frozen → /health 503 after ${took} ms\n`);
        expect(took).toBeLessThan(9_000);
        expect((await health(base)).body).toMatch(
          /"warehouse":\{"message":"PostgreSQL at [^"]* did not (answer|complete a connection) within \d+ s[^"]*stuck\?/,
        );
        expect(metric(await metrics(base), 'temps_warehouse_up')).toBe(0);
        // The console does not wait for the warehouse.
        await child.waitFor('Average temperature for 2025/01/02 at 23');
        await new Promise((r) => setTimeout(r, Math.max(0, frozenAt + 10_000 - Date.now())));
      } finally {
        pg.thaw();
      }
      await eventually(
        async () => (await queryRows(pg.url(), warehousePanelSql())).length === 48,
        30_000,
      );
      await eventually(async () => (await health(base)).status === 200, 20_000);
      const rows = await queryRows<WarehousePanelRow>(pg.url(), warehousePanelSql());
      expect(checkWarehouseRows(rows, syntheticHours(48))).toEqual({
        checked: 48,
        lost: 0,
        doubled: 0,
        wrong: 0,
      });
      expect(
        linesMatching(child, /did not (answer|complete a connection) within/).length,
      ).toBeLessThanOrEqual(2);
      expect(
        linesMatching(child, /did not (answer|complete a connection) within/).length,
      ).toBeGreaterThanOrEqual(1);
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

  it('two services on one embedded warehouse folder: the second says in one line which process holds it and what to do, and takes over once it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'temps-sink-shared-'));
    try {
      await addSyntheticAverages(redis, 0, 24);
      const first = await start({ WAREHOUSE_URL: `file://${dir}` });
      await eventually(
        async () => metric(await metrics(first.base), 'temps_warehouse_rows_written_total') === 24,
        60_000,
      );
      const second = await start({ WAREHOUSE_URL: `file://${dir}` });
      const inUse = new RegExp(
        `the warehouse folder ${dir} is in use by another process \\(pid ${first.child.pid}: [^)]*\\); stop that process, or give this one a folder of its own in WAREHOUSE_URL; retrying`,
      );
      await second.child.waitFor(inUse);
      await eventually(async () => (await health(second.base)).status === 503);
      expect((await health(second.base)).body).toContain(`the warehouse folder ${dir} is in use`);
      await addSyntheticAverages(redis, 24, 24);
      await eventually(
        async () => metric(await metrics(first.base), 'temps_warehouse_rows_written_total') === 48,
        30_000,
      );
      expect(linesMatching(second.child, /warehouse folder .* is in use/)).toHaveLength(1);
      expect(second.child.stdout + second.child.stderr).not.toContain('[object Object]');
      expect(second.child.exitCode).toBeNull();

      await first.child.kill('SIGTERM');
      // Released by the first (or already taken by the second).
      const holder = existsSync(folderLockFile(dir))
        ? readFileSync(folderLockFile(dir), 'utf8')
        : null;
      expect([null, `${second.child.pid}\n`]).toContain(holder);
      await addSyntheticAverages(redis, 48, 24);
      await eventually(
        async () => metric(await metrics(second.base), 'temps_warehouse_rows_written_total') === 24,
        60_000,
      );
      await eventually(async () => (await health(second.base)).status === 200, 20_000);
      await second.child.kill('SIGTERM');
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
