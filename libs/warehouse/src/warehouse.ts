import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { Pool, type PoolClient } from 'pg';
import { EmbeddedDialect } from './embedded';
import type { HourlyRow } from './hourly-row';
import { WAREHOUSE_MIGRATIONS } from './migrations';
import type { WarehouseDatabase } from './schema';
import {
  DeadlineError,
  StalePositionError,
  WAREHOUSE_DEADLINES,
  WarehouseError,
  classifyWarehouseError,
} from './warehouse-error';
import { describeWarehouse, type WarehouseLocation } from './warehouse-url';

/** How far the sink has stored a stream: the last entry ID and the `seq` it reached. */
export interface WarehousePosition {
  lastId: string;
  lastSeq: number;
}

export const START_POSITION: WarehousePosition = { lastId: '0', lastSeq: 0 };

/** The columns of hourly_averages in table order (what the sink writes, and a COPY lists). */
export const HOURLY_COLUMNS = [
  'hour_start',
  'date',
  'hour',
  'average_temp_f',
  'num_observations',
  'mean_temp_f',
  'min_temp_f',
  'max_temp_f',
  'partial',
] as const;

/** An entry that can never be stored, as the sink sets it aside (table set_aside_averages). */
export interface SetAsideEntry {
  /** Its ID in the stream. */
  id: string;
  /** Its fields as read, flat: name, value, name, value, … */
  fields: readonly string[];
  /** Why it cannot be stored: the database's message, or the shared rule's (averageProblem). */
  reason: string;
}

/** A field value longer than this is kept in set_aside_averages as its start and its length. */
const SET_ASIDE_VALUE_CHARS = 1_000_000;

/**
 * The data warehouse: one PostgreSQL (node-postgres pool) or PGlite behind the same Kysely queries.
 * Every method throws WarehouseError naming the cause (unreachable, authentication, schema,
 * timeout, …), UnstorableError when the database refuses the data itself. Every call has a
 * deadline (WAREHOUSE_DEADLINES): on PostgreSQL the server's `lock_timeout` and
 * `statement_timeout`, node-postgres's `query_timeout` for a server that answers nothing (its
 * connection is then dropped, so the server rolls the transaction back) and
 * `connectionTimeoutMillis`; on PGlite a client-side deadline per call.
 */
export class Warehouse {
  readonly where: string;
  /** A query of this step that node-postgres gave up on (its connection dropped since). */
  private readonly deadlines: { timedOut: Error | null };

  private constructor(
    readonly db: Kysely<WarehouseDatabase>,
    private readonly location: WarehouseLocation,
    deadlines: { timedOut: Error | null },
  ) {
    this.where = describeWarehouse(location);
    this.deadlines = deadlines;
  }

  /**
   * Opens lazily: nothing is connected until the first query (a PGlite folder is created if
   * missing; throws if it cannot be). A PGlite folder is taken only once no other process holds
   * it (WarehouseError `in_use` until then).
   */
  static open(location: WarehouseLocation): Warehouse {
    const deadlines = { timedOut: null as Error | null };
    if (location.kind === 'pglite') {
      mkdirSync(location.dataDir, { recursive: true });
      return new Warehouse(
        new Kysely({ dialect: new EmbeddedDialect(location.dataDir) }),
        location,
        deadlines,
      );
    }
    const pool = new Pool({
      connectionString: location.url,
      max: 2,
      connectionTimeoutMillis: WAREHOUSE_DEADLINES.connectMs,
      lock_timeout: WAREHOUSE_DEADLINES.lockMs,
      statement_timeout: WAREHOUSE_DEADLINES.statementMs,
      query_timeout: WAREHOUSE_DEADLINES.queryMs,
      application_name: 'temps-warehouse',
    });
    // A connection whose server went away emits 'error': an idle one on the pool, one checked out
    // (held by a transaction between queries) on itself, where no listener would end the process.
    // Either way the query in hand or the next one fails properly and the pool drops the client.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => {
      client.on('error', () => undefined);
      dropOnReadTimeout(client, deadlines);
    });
    return new Warehouse(
      new Kysely({ dialect: new PostgresDialect({ pool }) }),
      location,
      deadlines,
    );
  }

  /** Brings the schema to the newest migration (each step in its own transaction). */
  async migrate(): Promise<void> {
    await this.guard(
      'bringing the schema up to date',
      async () => {
        const migrator = new Migrator({
          db: this.db,
          provider: { getMigrations: async () => WAREHOUSE_MIGRATIONS },
          // Steps added on separate branches (each its own table or column) may land in any order.
          allowUnorderedMigrations: true,
        });
        const { error } = await migrator.migrateToLatest();
        if (error) throw error;
      },
      // PGlite's first start creates the database in the folder.
      WAREHOUSE_DEADLINES.embeddedMs * 6,
    );
  }

  async ping(): Promise<void> {
    await this.guard('answering a ping', () => sql`select 1`.execute(this.db));
  }

  /** The stored position in `stream`; START_POSITION before the first store. */
  async position(stream: string): Promise<WarehousePosition> {
    return this.guard('reading the position', async () => {
      const row = await this.db
        .selectFrom('warehouse_position')
        .select(['last_message_id', 'last_seq'])
        .where('stream', '=', stream)
        .executeTakeFirst();
      return row ? { lastId: row.last_message_id, lastSeq: Number(row.last_seq) } : START_POSITION;
    });
  }

  /**
   * Stores `rows`, keeps `setAside` in set_aside_averages, and moves the position from `from` to
   * `to`, in one transaction: all or nothing. An hour already present is overwritten with the new
   * value (a repeated hour stays one row). Throws StalePositionError, storing nothing, when the
   * saved position is not `from`; UnstorableError when the database refuses a row's data.
   */
  async store(
    stream: string,
    from: WarehousePosition,
    to: WarehousePosition,
    rows: readonly HourlyRow[],
    setAside: readonly SetAsideEntry[] = [],
  ): Promise<void> {
    const doing =
      rows.length > 0
        ? `storing ${rows.length} hour${rows.length === 1 ? '' : 's'} in hourly_averages`
        : setAside.length > 0
          ? 'setting an entry aside'
          : 'moving the position';
    await this.guard(doing, () =>
      this.db.transaction().execute(async (trx) => {
        const saved = await trx
          .selectFrom('warehouse_position')
          .select('last_message_id')
          .where('stream', '=', stream)
          .forUpdate()
          .executeTakeFirst();
        const savedId = saved?.last_message_id ?? START_POSITION.lastId;
        if (savedId !== from.lastId) throw new StalePositionError(from.lastId, savedId);
        // An hour twice in one batch (a foreign entry for an hour already there): the later wins,
        // as it would across batches; ON CONFLICT may touch a row only once per statement.
        const byHour = new Map(rows.map((row) => [row.hour_start.getTime(), row]));
        const batch = [...byHour.values()];
        if (batch.length > 0) {
          // One statement per batch whatever its size: each column travels as one array
          // parameter and unnest() turns them back into rows (batching, not a round trip per hour).
          const column = <K extends keyof HourlyRow>(key: K) => batch.map((row) => row[key]);
          await trx
            .insertInto('hourly_averages')
            .columns(HOURLY_COLUMNS)
            .expression(
              sql`select * from unnest(
                ${column('hour_start')}::timestamptz[], ${column('date')}::date[],
                ${column('hour')}::smallint[], ${column('average_temp_f')}::integer[],
                ${column('num_observations')}::integer[], ${column('mean_temp_f')}::numeric[],
                ${column('min_temp_f')}::numeric[], ${column('max_temp_f')}::numeric[],
                ${batch.map((row) => row.partial ?? null)}::text[])`,
            )
            .onConflict((oc) =>
              oc.column('hour_start').doUpdateSet((eb) => ({
                date: eb.ref('excluded.date'),
                hour: eb.ref('excluded.hour'),
                average_temp_f: eb.ref('excluded.average_temp_f'),
                num_observations: eb.ref('excluded.num_observations'),
                mean_temp_f: eb.ref('excluded.mean_temp_f'),
                min_temp_f: eb.ref('excluded.min_temp_f'),
                max_temp_f: eb.ref('excluded.max_temp_f'),
                partial: eb.ref('excluded.partial'),
              })),
            )
            .execute();
        }
        if (setAside.length > 0) {
          const now = new Date();
          await trx
            .insertInto('set_aside_averages')
            .values(
              setAside.map((entry) => ({
                stream,
                message_id: entry.id,
                fields: setAsideFields(entry.fields),
                reason: entry.reason,
                set_aside_at: now,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['stream', 'message_id']).doUpdateSet((eb) => ({
                fields: eb.ref('excluded.fields'),
                reason: eb.ref('excluded.reason'),
                set_aside_at: eb.ref('excluded.set_aside_at'),
              })),
            )
            .execute();
        }
        const position = {
          last_message_id: to.lastId,
          last_seq: to.lastSeq,
          updated_at: new Date(),
        };
        await trx
          .insertInto('warehouse_position')
          .values({ stream, ...position })
          .onConflict((oc) => oc.column('stream').doUpdateSet(position))
          .execute();
      }),
    );
  }

  async close(): Promise<void> {
    await this.db.destroy().catch(() => undefined);
  }

  /** The entries set aside from `stream`, oldest first. */
  async setAsideEntries(
    stream: string,
  ): Promise<{ id: string; fields: [string, string][]; reason: string }[]> {
    return this.guard('reading set_aside_averages', async () => {
      const rows = await this.db
        .selectFrom('set_aside_averages')
        .select(['message_id', 'fields', 'reason'])
        .where('stream', '=', stream)
        .orderBy('set_aside_at')
        .orderBy('message_id')
        .execute();
      return rows.map((row) => ({ id: row.message_id, fields: row.fields, reason: row.reason }));
    });
  }

  /** `doing` names the call in a timeout's message; `deadlineMs` bounds a PGlite call. */
  private async guard<T>(
    doing: string,
    step: () => Promise<T>,
    deadlineMs: number = WAREHOUSE_DEADLINES.embeddedMs,
  ): Promise<T> {
    this.deadlines.timedOut = null;
    try {
      return this.location.kind === 'pglite'
        ? await withDeadline(step, doing, deadlineMs)
        : await step();
    } catch (error) {
      // A query node-postgres gave up on: its connection was dropped, so what Kysely says after
      // it (a failed ROLLBACK, "Connection terminated") is not the cause.
      const cause = this.deadlines.timedOut ?? error;
      throw cause instanceof WarehouseError
        ? cause
        : classifyWarehouseError(cause, this.where, doing);
    }
  }
}

/** Races `step` against `ms`; the call is abandoned (PGlite runs it to its end meanwhile). */
async function withDeadline<T>(step: () => Promise<T>, doing: string, ms: number): Promise<T> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      step(),
      sleep(ms, undefined, { signal: timer.signal }).then(() => {
        throw new DeadlineError(doing, ms);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

/**
 * node-postgres gives up on a query after `query_timeout` but keeps waiting on the connection for
 * its answer, and would hand the same connection to the next step, which then waits behind it. So
 * a query that timed out ends its connection: the server rolls its transaction back (when it
 * answers again), and the pool opens a fresh one.
 */
function dropOnReadTimeout(client: PoolClient, deadlines: { timedOut: Error | null }): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
    const result = query(...args);
    if (!(result instanceof Promise)) return result;
    return result.catch((error: unknown) => {
      if ((error as Error | null)?.message === 'Query read timeout') {
        deadlines.timedOut ??= error as Error;
        // Ends the connection at once (with a query active it destroys the socket) and marks it
        // ending now, so the pool drops it when Kysely releases it instead of handing it out again.
        void client.end().catch(() => undefined);
      }
      throw error;
    });
  };
}

/**
 * An entry's flat fields as set_aside_averages keeps them: [[name, value], …], a NUL character
 * (which jsonb cannot hold) as U+FFFD, a value over SET_ASIDE_VALUE_CHARS as its start and length.
 */
function setAsideFields(fields: readonly string[]): string {
  const keep = (text: string) => {
    const clean = text.replaceAll('\u0000', '\uFFFD');
    return clean.length <= SET_ASIDE_VALUE_CHARS
      ? clean
      : `${clean.slice(0, SET_ASIDE_VALUE_CHARS)}… (${clean.length} characters)`;
  };
  const pairs: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2)
    pairs.push([keep(fields[i]), keep(fields[i + 1] ?? '')]);
  return JSON.stringify(pairs);
}
