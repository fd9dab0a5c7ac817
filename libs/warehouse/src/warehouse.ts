import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { Pool } from 'pg';
import type { HourlyRow } from './hourly-row';
import { WAREHOUSE_MIGRATIONS } from './migrations';
import type { WarehouseDatabase } from './schema';
import { StalePositionError, WarehouseError, classifyWarehouseError } from './warehouse-error';
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

/**
 * The data warehouse: one PostgreSQL (node-postgres pool) or PGlite behind the same Kysely queries.
 * Every method throws WarehouseError naming the cause (unreachable, authentication, schema, …).
 */
export class Warehouse {
  readonly where: string;

  private constructor(
    readonly db: Kysely<WarehouseDatabase>,
    location: WarehouseLocation,
  ) {
    this.where = describeWarehouse(location);
  }

  /**
   * Opens lazily: nothing is connected until the first query (a PGlite folder is created if
   * missing; throws if it cannot be).
   */
  static open(location: WarehouseLocation): Warehouse {
    if (location.kind === 'pglite') {
      mkdirSync(location.dataDir, { recursive: true });
      return new Warehouse(
        new Kysely({ dialect: new PGliteDialect(new PGlite(`file://${location.dataDir}`)) }),
        location,
      );
    }
    const pool = new Pool({
      connectionString: location.url,
      max: 2,
      connectionTimeoutMillis: 5_000,
      application_name: 'temps-warehouse',
    });
    // A connection whose server went away emits 'error': an idle one on the pool, one checked out
    // (held by a transaction between queries) on itself, where no listener would end the process.
    // Either way the query in hand or the next one fails properly and the pool drops the client.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    return new Warehouse(new Kysely({ dialect: new PostgresDialect({ pool }) }), location);
  }

  /** Brings the schema to the newest migration (each step in its own transaction). */
  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: { getMigrations: async () => WAREHOUSE_MIGRATIONS },
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw classifyWarehouseError(error, this.where);
  }

  async ping(): Promise<void> {
    await this.guard(() => sql`select 1`.execute(this.db));
  }

  /** The stored position in `stream`; START_POSITION before the first store. */
  async position(stream: string): Promise<WarehousePosition> {
    return this.guard(async () => {
      const row = await this.db
        .selectFrom('warehouse_position')
        .select(['last_message_id', 'last_seq'])
        .where('stream', '=', stream)
        .executeTakeFirst();
      return row ? { lastId: row.last_message_id, lastSeq: Number(row.last_seq) } : START_POSITION;
    });
  }

  /**
   * Stores `rows` and moves the position from `from` to `to`, in one transaction: either both or
   * neither. An hour already present is overwritten with the new value (a repeated hour stays one
   * row). Throws StalePositionError, storing nothing, when the saved position is not `from`.
   */
  async store(
    stream: string,
    from: WarehousePosition,
    to: WarehousePosition,
    rows: readonly HourlyRow[],
  ): Promise<void> {
    await this.guard(() =>
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

  private async guard<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      throw error instanceof WarehouseError ? error : classifyWarehouseError(error, this.where);
    }
  }
}
