import type { Kysely, Migration } from 'kysely';

/**
 * The warehouse's dead-letter table (as Kafka Connect's dead-letter queue): a temps:averages entry
 * that can never be stored — its stream ID, its fields as read, and why — so that the sink goes on
 * with the next one. Written in the same transaction as the position that moves past the entry.
 */
export const SET_ASIDE_MIGRATION: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('set_aside_averages')
      .addColumn('stream', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      // [[name, value], …] in the entry's order (a field may repeat).
      .addColumn('fields', 'jsonb', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('set_aside_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('set_aside_averages_pkey', ['stream', 'message_id'])
      .execute();
  },
};
