import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { Client } from 'pg';
import {
  createScratchDatabase,
  eventually,
  PrivatePostgres,
  queryRows,
  type ScratchDatabase,
} from '@temps/testing';
import { averageProblem, decodeAverage } from '@temps/streams';
import {
  averageToRow,
  folderLockFile,
  hourlyRow,
  StalePositionError,
  START_POSITION,
  UnstorableError,
  WAREHOUSE_DEADLINES,
  Warehouse,
  WarehouseError,
  parseWarehouseUrl,
  type HourlyRow,
  type StoredAverage,
} from '@temps/warehouse';

const STREAM = 'temps:averages';
const HOUR_MS = 3_600_000;
const START_MS = Date.UTC(2025, 0, 1);

function row(index: number, mean = 50 + (index % 7) + 0.1234): HourlyRow {
  const start = new Date(START_MS + index * HOUR_MS);
  return {
    hour_start: start,
    date: start.toISOString().slice(0, 10),
    hour: start.getUTCHours(),
    average_temp_f: Math.trunc(mean),
    num_observations: 3600,
    mean_temp_f: mean.toFixed(4),
    min_temp_f: '40',
    max_temp_f: '61',
  };
}

async function stored(warehouse: Warehouse) {
  return warehouse.db
    .selectFrom('hourly_averages')
    .select(['hour_start', 'mean_temp_f', 'average_temp_f'])
    .orderBy('hour_start')
    .execute();
}

interface Backend {
  name: string;
  open(): Promise<{ warehouse: Warehouse; dispose(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'PostgreSQL (a database created for the test)',
    async open() {
      const database: ScratchDatabase = await createScratchDatabase('temps_wh');
      const warehouse = Warehouse.open(parseWarehouseUrl(database.url));
      return {
        warehouse,
        dispose: async () => {
          await warehouse.close();
          await database.drop();
        },
      };
    },
  },
  {
    name: 'PGlite (embedded, in a temporary folder)',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'temps-pglite-'));
      const warehouse = Warehouse.open(parseWarehouseUrl(`file://${dir}`));
      return {
        warehouse,
        dispose: async () => {
          await warehouse.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

describe('warehouse on PostgreSQL, its connection killed while a transaction holds it', () => {
  it('fails that transaction, keeps the process alive, and works on a new connection', async () => {
    const database = await createScratchDatabase('temps_wh_kill');
    const warehouse = Warehouse.open(parseWarehouseUrl(database.url));
    try {
      await warehouse.migrate();
      const failure = await warehouse.db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
          // Killed from outside between two queries: the held client emits 'error' on its own.
          const [{ killed }] = await queryRows<{ killed: boolean }>(
            database.url,
            'select pg_terminate_backend($1) as killed',
            [rows[0].pid],
          );
          expect(killed).toBe(true);
          await new Promise((resolve) => setTimeout(resolve, 200));
          await sql`select 1`.execute(trx);
        })
        .then(
          () => null,
          (error: Error) => error,
        );
      expect(failure).toBeInstanceOf(Error);
      expect(await warehouse.position('temps:averages')).toEqual(START_POSITION);
    } finally {
      await warehouse.close();
      await database.drop();
    }
  });
});

describe.each(backends)('warehouse on $name', (backend) => {
  let warehouse: Warehouse;
  let dispose: () => Promise<void>;

  beforeEach(async () => {
    ({ warehouse, dispose } = await backend.open());
    await warehouse.migrate();
  });
  afterEach(() => dispose());

  it('migrates idempotently and starts at the stream start', async () => {
    await warehouse.migrate();
    expect(await warehouse.position(STREAM)).toEqual(START_POSITION);
    const applied = await sql<{
      name: string;
    }>`select name from kysely_migration order by name`.execute(warehouse.db);
    expect(applied.rows.map((r) => r.name)).toEqual([
      '0001_hourly_averages',
      '0002_partial_hours',
      '0002_set_aside_averages',
    ]);
  });

  it('stores rows and the position together, and refuses a step from a stale position', async () => {
    const first = { lastId: `${START_MS + HOUR_MS}-0`, lastSeq: 2 };
    await warehouse.store(STREAM, START_POSITION, first, [row(0), row(1)]);
    expect(await warehouse.position(STREAM)).toEqual(first);

    // The same step again (a writer that did not see its own commit) changes nothing.
    await expect(
      warehouse.store(STREAM, START_POSITION, first, [row(0), row(1), row(2)]),
    ).rejects.toBeInstanceOf(StalePositionError);
    expect((await stored(warehouse)).length).toBe(2);
    expect(await warehouse.position(STREAM)).toEqual(first);
  });

  it('keeps one row per hour: a repeated hour takes the newest value', async () => {
    const first = { lastId: '1-0', lastSeq: 1 };
    await warehouse.store(STREAM, START_POSITION, first, [row(0, 48.5)]);
    await warehouse.store(STREAM, first, { lastId: '2-0', lastSeq: 2 }, [row(0, 49.25), row(1)]);
    const rows = await stored(warehouse);
    expect(rows.map((r) => [r.hour_start.getTime(), r.mean_temp_f, r.average_temp_f])).toEqual([
      [START_MS, '49.2500', 49],
      [START_MS + HOUR_MS, row(1).mean_temp_f, row(1).average_temp_f],
    ]);
  });

  it('stores a batch of 5,000 hours, and an hour twice in one batch once (the later value)', async () => {
    const rows = Array.from({ length: 5_000 }, (_, i) => row(i));
    await warehouse.store(STREAM, START_POSITION, { lastId: '9-0', lastSeq: 5_000 }, [
      ...rows,
      row(7, 12.5),
    ]);
    const saved = await stored(warehouse);
    expect(saved.length).toBe(5_000);
    expect(saved[7].mean_temp_f).toBe('12.5000');
  });

  it('names an altered table as a schema fault and stores nothing', async () => {
    await sql`alter table hourly_averages rename column mean_temp_f to mean_f`.execute(
      warehouse.db,
    );
    const failure = await warehouse
      .store(STREAM, START_POSITION, { lastId: '1-0', lastSeq: 1 }, [row(0)])
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WarehouseError);
    expect((failure as WarehouseError).reason).toBe('schema');
    expect((failure as Error).message).toMatch(/not as its migrations left it.*mean_temp_f/);
    expect(await warehouse.position(STREAM)).toEqual(START_POSITION);
  });

  it("stores averages in the exercise's own format: no seq, no exact figures", async () => {
    const flat = (fields: Record<string, string>) => Object.entries(fields).flat();
    const seed = averageToRow(
      flat({ hour: '7', date: '2025/01/03', average_temp_f: '51', num_observations: '3600' }),
    ) as StoredAverage;
    const decimal = averageToRow(
      flat({ hour: '8', date: '2025/01/03', average_temp_f: '-4.25', num_observations: '60' }),
    ) as StoredAverage;
    expect([seed.seq, decimal.seq]).toEqual([null, null]);
    // Impossible hours are not stored: the sink sets them aside, saying why.
    expect(
      averageToRow(
        flat({ hour: '1', date: '2025/02/30', average_temp_f: '5', num_observations: '1' }),
      ),
    ).toEqual({ problem: 'date 2025/02/30 is not a day of the calendar', seq: null });
    expect(
      averageToRow(
        flat({ hour: '1', date: '2025/02/03', average_temp_f: '5', num_observations: '0' }),
      ),
    ).toEqual({ problem: 'num_observations 0 is outside 1…2147483647', seq: null });
    expect(averageToRow(flat({ hour: '1', date: '2025/02/03' }))).toBeNull();
    await warehouse.store(STREAM, START_POSITION, { lastId: '2-0', lastSeq: 0 }, [
      seed.row,
      decimal.row,
    ]);
    const saved = await warehouse.db
      .selectFrom('hourly_averages')
      .selectAll()
      .orderBy('hour_start')
      .execute();
    expect(saved).toMatchObject([
      {
        hour: 7,
        average_temp_f: 51,
        num_observations: 3600,
        mean_temp_f: null,
        min_temp_f: null,
        max_temp_f: null,
      },
      // A decimal figure is the exact mean; average_temp_f its integer part, as this project writes it.
      {
        hour: 8,
        average_temp_f: -4,
        num_observations: 60,
        mean_temp_f: '-4.25',
        min_temp_f: null,
      },
    ]);
  });

  it('sets entries aside with their fields and reason, in the transaction that moves the position', async () => {
    const to = { lastId: '7-0', lastSeq: 7 };
    const poison = {
      id: '6-0',
      // jsonb cannot hold NUL: it is kept as U+FFFD.
      fields: [
        'hour',
        '5',
        'date',
        '2025/01/02',
        'average_temp_f',
        '3000000000',
        'note',
        'a\u0000b',
      ],
      reason: 'average_temp_f 3000000000 is outside -2147483648…2147483647',
    };
    // From a stale position nothing is kept.
    await expect(
      warehouse.store(STREAM, { lastId: '1-0', lastSeq: 1 }, to, [row(0)], [poison]),
    ).rejects.toBeInstanceOf(StalePositionError);
    expect(await warehouse.setAsideEntries(STREAM)).toEqual([]);
    await warehouse.store(STREAM, START_POSITION, to, [row(0)], [poison]);
    expect(await warehouse.position(STREAM)).toEqual(to);
    expect(await warehouse.setAsideEntries(STREAM)).toEqual([
      {
        id: '6-0',
        fields: [
          ['hour', '5'],
          ['date', '2025/01/02'],
          ['average_temp_f', '3000000000'],
          ['note', 'a\uFFFDb'],
        ],
        reason: poison.reason,
      },
    ]);
    // A store that fails on a row keeps nothing set aside either.
    const failure = await warehouse
      .store(
        STREAM,
        to,
        { lastId: '8-0', lastSeq: 8 },
        [{ ...row(1), average_temp_f: 3e9 }],
        [{ ...poison, id: '8-0' }],
      )
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnstorableError);
    expect((await warehouse.setAsideEntries(STREAM)).map((e) => e.id)).toEqual(['6-0']);
    expect(await warehouse.position(STREAM)).toEqual(to);
  });

  // One member each of the kind "a value the reader would accept but the table cannot hold":
  // the shared rule (averageProblem) and the database agree on every one, both ways.
  it.each([
    ['a whole average', {}],
    ['the largest integer', { average_temp_f: '2147483647' }],
    ['an integer past 2^31', { average_temp_f: '3000000000' }],
    ['an integer below -2^31', { average_temp_f: '-2147483649' }],
    ['observations past 2^31', { num_observations: '2147483648' }],
    ['no observations', { num_observations: '0' }],
    ['a day that does not exist', { date: '2025/02/30' }],
    ['February 29th of a common year', { date: '2100/02/29' }],
    ['February 29th of a leap year', { date: '2024/02/29' }],
    ['the year 0', { date: '0000/06/01' }],
    ['hour 24', { hour: '24' }],
    [
      'the most digits numeric holds',
      { mean_temp_f: `${'9'.repeat(131_072)}.${'1'.repeat(16_383)}` },
    ],
    ['a mean of 131,073 digits', { mean_temp_f: '9'.repeat(131_073) }],
    ['a max with 16,384 decimals', { max_temp_f: `1.${'2'.repeat(16_384)}` }],
    ['a decimal average past 2^31', { average_temp_f: '2147483648.5' }],
  ])('agrees with the database on %s', async (_, change) => {
    const fields = Object.entries({
      hour: '5',
      date: '2025/01/02',
      average_temp_f: '-3',
      num_observations: '3600',
      mean_temp_f: '-3.1416',
      min_temp_f: '-20',
      max_temp_f: '12',
      ...change,
    }).flat();
    const message = decodeAverage(fields)!;
    expect(message).not.toBeNull();
    const problem = averageProblem(message);
    const refused = await warehouse
      .store(STREAM, START_POSITION, { lastId: '1-0', lastSeq: 0 }, [hourlyRow(message)])
      .then(
        () => null,
        (error: unknown) => error,
      );
    if (refused !== null) expect(refused).toBeInstanceOf(UnstorableError);
    expect({ refusedByTheDatabase: refused !== null, problem }).toEqual({
      refusedByTheDatabase: problem !== null,
      problem,
    });
  });

  it('stores a partial hour with its reason, a complete one with partial NULL', async () => {
    const fields = (hour: string, extra: string[]) => {
      const stored = averageToRow([
        'hour',
        hour,
        'date',
        '2025/01/03',
        'average_temp_f',
        '12',
        'num_observations',
        '1200',
        'mean_temp_f',
        '12.5000',
        'min_temp_f',
        '1',
        'max_temp_f',
        '30',
        ...extra,
      ]);
      if (!stored || !('row' in stored)) throw new Error('not a storable average');
      return stored.row;
    };
    await warehouse.store(STREAM, START_POSITION, { lastId: '2-0', lastSeq: 2 }, [
      fields('8', ['partial', 'evicted', 'seq', '1']),
      fields('9', ['seq', '2']),
    ]);
    const saved = await warehouse.db
      .selectFrom('hourly_averages')
      .select(['hour', 'partial'])
      .orderBy('hour_start')
      .execute();
    expect(saved).toEqual([
      { hour: 8, partial: 'evicted' },
      { hour: 9, partial: null },
    ]);
  });

  it('keeps the exact values of an hourly average entry', async () => {
    const entry = averageToRow([
      'hour',
      '5',
      'date',
      '2025/01/02',
      'average_temp_f',
      '-3',
      'num_observations',
      '3600',
      'mean_temp_f',
      '-3.1416',
      'min_temp_f',
      '-20',
      'max_temp_f',
      '12',
      'seq',
      '30',
    ]) as StoredAverage;
    await warehouse.store(STREAM, START_POSITION, { lastId: '1-0', lastSeq: 30 }, [entry.row]);
    const [saved] = await warehouse.db.selectFrom('hourly_averages').selectAll().execute();
    expect(saved).toMatchObject({
      hour_start: new Date(Date.UTC(2025, 0, 2, 5)),
      hour: 5,
      average_temp_f: -3,
      num_observations: 3600,
      mean_temp_f: '-3.1416',
      min_temp_f: '-20',
      max_temp_f: '12',
    });
  });
});

describe('warehouse faults on a private PostgreSQL with password authentication', () => {
  let server: PrivatePostgres;
  beforeAll(async () => {
    server = await PrivatePostgres.start();
  });
  afterAll(() => server?.destroy());

  async function failure(url: string): Promise<WarehouseError> {
    const warehouse = Warehouse.open(parseWarehouseUrl(url));
    try {
      return (await warehouse.migrate().then(
        () => {
          throw new Error('migrate succeeded');
        },
        (error: unknown) => error,
      )) as WarehouseError;
    } finally {
      await warehouse.close();
    }
  }

  it('a wrong password is an authentication fault whose message hides the password', async () => {
    const error = await failure(server.url('postgres', 'not-the-secret-xyz'));
    expect(error).toBeInstanceOf(WarehouseError);
    expect(error.reason).toBe('authentication');
    expect(error.message).toContain('postgres://postgres:***@127.0.0.1');
    expect(error.message).not.toContain('not-the-secret-xyz');
  });

  it('a missing database is named', async () => {
    const error = await failure(server.url('no_such_db'));
    expect(error.reason).toBe('database');
    expect(error.message).toMatch(/no_such_db/);
    expect(error.message).not.toContain(server.password);
  });

  it('a stopped server is unreachable, and the warehouse works again once it is back', async () => {
    const warehouse = Warehouse.open(parseWarehouseUrl(server.url()));
    try {
      await warehouse.migrate();
      await server.stopServer('immediate');
      const error = (await warehouse.ping().catch((e: unknown) => e)) as WarehouseError;
      expect(error.reason).toBe('unreachable');
      expect(error.message).not.toContain(server.password);
      await server.startServer();
      await warehouse.ping();
      expect(await warehouse.position(STREAM)).toEqual(START_POSITION);
    } finally {
      await warehouse.close();
    }
  });

  it('a table another session holds locked: the store gives up after lock_timeout, naming it, and succeeds once the lock is gone', async () => {
    const warehouse = Warehouse.open(parseWarehouseUrl(server.url()));
    const holder = new Client({ connectionString: server.url() });
    try {
      await warehouse.migrate();
      await holder.connect();
      await holder.query('begin');
      await holder.query('lock table hourly_averages in access exclusive mode');
      const to = { lastId: '1-0', lastSeq: 1 };
      const started = Date.now();
      const error = (await warehouse
        .store(STREAM, START_POSITION, to, [row(0)])
        .catch((e: unknown) => e)) as WarehouseError;
      const took = Date.now() - started;
      expect(error.reason).toBe('timeout');
      expect(error.message).toMatch(
        /storing 1 hour in hourly_averages waited more than 2 s for a lock another session holds \(canceling statement due to lock timeout\)/,
      );
      expect(took).toBeGreaterThanOrEqual(WAREHOUSE_DEADLINES.lockMs - 100);
      expect(took).toBeLessThan(WAREHOUSE_DEADLINES.lockMs + 2_000);
      await holder.query('rollback');
      await warehouse.store(STREAM, START_POSITION, to, [row(0)]);
      expect(await warehouse.position(STREAM)).toEqual(to);
    } finally {
      await holder.end().catch(() => undefined);
      await warehouse.close();
    }
  });

  it('a frozen server (SIGSTOP): a call gives up after query_timeout, and after SIGCONT the store is done once', async () => {
    const warehouse = Warehouse.open(parseWarehouseUrl(server.url()));
    try {
      await warehouse.migrate();
      const from = await warehouse.position(STREAM);
      const to = { lastId: `${Date.now()}-9`, lastSeq: from.lastSeq + 1 };
      server.freeze();
      const started = Date.now();
      const error = (await warehouse
        .store(STREAM, from, to, [row(100)])
        .catch((e: unknown) => e)) as WarehouseError;
      const took = Date.now() - started;
      expect(error.reason).toBe('timeout');
      expect(error.message).toMatch(/did not (answer|complete a connection) within \d+ s/);
      expect(took).toBeLessThan(WAREHOUSE_DEADLINES.queryMs + 2_000);
      // Later calls do not queue behind the stuck one: each gives up on its own deadline.
      const second = Date.now();
      await expect(warehouse.ping()).rejects.toMatchObject({ reason: 'timeout' });
      expect(Date.now() - second).toBeLessThan(WAREHOUSE_DEADLINES.queryMs + 2_000);
      server.thaw();
      await eventually(() => warehouse.ping().then(() => true), 20_000);
      // The stuck transaction was rolled back: the store from the same position is the one.
      expect(await warehouse.position(STREAM)).toEqual(from);
      await warehouse.store(STREAM, from, to, [row(100)]);
      expect(await warehouse.position(STREAM)).toEqual(to);
    } finally {
      server.thaw();
      await warehouse.close();
    }
  });
});

describe('an embedded warehouse folder another process holds', () => {
  it('is named with that process and what to do, and is taken once that process has ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'temps-pglite-held-'));
    const lock = folderLockFile(dir);
    const warehouse = Warehouse.open(parseWarehouseUrl(`file://${dir}`));
    try {
      // The test runner's parent is alive for the whole test.
      writeFileSync(lock, `${process.ppid}\n`);
      const error = (await warehouse.migrate().catch((e: unknown) => e)) as WarehouseError;
      expect(error).toBeInstanceOf(WarehouseError);
      expect(error.reason).toBe('in_use');
      expect(error.message).toMatch(
        new RegExp(
          `^the warehouse folder ${dir} is in use by another process \\(pid ${process.ppid}[:,].*stop that process, or give this one a folder of its own in WAREHOUSE_URL$`,
        ),
      );
      // A process that has ended (SIGKILL leaves its file behind): the folder is taken over.
      const ended = spawnSync(process.execPath, [
        '-e',
        'process.stdout.write(String(process.pid))',
      ]);
      writeFileSync(lock, `${ended.stdout.toString()}\n`);
      await warehouse.migrate();
      expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
    } finally {
      await warehouse.close();
      expect(existsSync(lock)).toBe(false);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
