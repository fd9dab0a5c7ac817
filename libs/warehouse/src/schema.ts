import type { ColumnType } from 'kysely';

/**
 * The warehouse's tables as Kysely sees them (created by ./migrations). Numeric columns come back
 * as strings: PostgreSQL's `numeric` keeps the stream's decimal text exactly.
 */
export interface HourlyAveragesTable {
  /** The hour's start (UTC); one row per hour. */
  hour_start: ColumnType<Date, Date, Date>;
  /** The UTC day of the hour, `YYYY-MM-DD`. */
  date: ColumnType<unknown, string, string>;
  /** 0–23 (UTC). */
  hour: number;
  /** The exercise's figure: the integer part of the mean, °F. */
  average_temp_f: number;
  num_observations: number;
  /** Exact mean (4 decimals, as in temps:averages), °F; null for the exercise's own format. */
  mean_temp_f: string | null;
  min_temp_f: string | null;
  max_temp_f: string | null;
  /**
   * Why the hour is partial (readings lost before they were read: `expired`, `evicted`); null for a
   * complete hour. Optional on insert: rows written before it existed have none.
   */
  partial: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Where the sink is in temps:averages; written in the same transaction as the rows. */
export interface WarehousePositionTable {
  stream: string;
  last_message_id: string;
  /** The `seq` of the last average stored (or known to be missed). */
  last_seq: ColumnType<string, number, number>;
  updated_at: ColumnType<Date, Date, Date>;
}

/** Entries that can never be stored, kept with why (./migration-set-aside). */
export interface SetAsideAveragesTable {
  stream: string;
  message_id: string;
  /** The entry's fields as read: [[name, value], …]. */
  fields: ColumnType<[string, string][], string, string>;
  reason: string;
  set_aside_at: ColumnType<Date, Date, Date>;
}

export interface WarehouseDatabase {
  hourly_averages: HourlyAveragesTable;
  warehouse_position: WarehousePositionTable;
  set_aside_averages: SetAsideAveragesTable;
}
