import { sql, type Kysely, type Migration } from 'kysely';
import { PARTIAL_HOURS_MIGRATION } from './migration-0002-partial-hours';
import { SET_ASIDE_MIGRATION } from './migration-set-aside';

/**
 * The warehouse schema, one versioned step per key (applied in key order, each once, recorded by
 * Kysely's Migrator in `kysely_migration`). Never edit a step that has shipped; add the next one.
 */
export const WAREHOUSE_MIGRATIONS: Record<string, Migration> = {
  '0001_hourly_averages': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('hourly_averages')
        .addColumn('hour_start', 'timestamptz', (c) => c.primaryKey())
        .addColumn('date', 'date', (c) => c.notNull())
        .addColumn('hour', 'smallint', (c) => c.notNull().check(sql`hour between 0 and 23`))
        .addColumn('average_temp_f', 'integer', (c) => c.notNull())
        .addColumn('num_observations', 'integer', (c) =>
          c.notNull().check(sql`num_observations > 0`),
        )
        // Null for averages written in the exercise's own format, which has no exact figures.
        .addColumn('mean_temp_f', 'numeric')
        .addColumn('min_temp_f', 'numeric')
        .addColumn('max_temp_f', 'numeric')
        .execute();
      await db.schema
        .createTable('warehouse_position')
        .addColumn('stream', 'text', (c) => c.primaryKey())
        .addColumn('last_message_id', 'text', (c) => c.notNull())
        .addColumn('last_seq', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
    },
  },
  '0002_partial_hours': PARTIAL_HOURS_MIGRATION,
  '0002_set_aside_averages': SET_ASIDE_MIGRATION,
};
