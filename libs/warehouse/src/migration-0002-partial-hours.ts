import type { Kysely, Migration } from 'kysely';

/**
 * `hourly_averages.partial`: why an hour's average is partial — some of its readings were lost
 * before the aggregator read them (`expired`, `evicted`: the `partial` field on temps:averages) —
 * or NULL for a complete hour (and for every row stored before this step).
 */
export const PARTIAL_HOURS_MIGRATION: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('hourly_averages').addColumn('partial', 'text').execute();
  },
};
