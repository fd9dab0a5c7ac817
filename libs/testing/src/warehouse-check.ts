import type { Redis } from 'ioredis';
import { AVERAGES_STREAM, HOUR_MS, averageEntryId, averageFields } from '@temps/streams';
import { dashboardPanels, readDashboard } from './dashboard';
import { emptyTally, type Tally } from './run-check';

export const WAREHOUSE_PANEL_TITLE = 'Hourly averages (warehouse)';

/** The SQL of the dashboard's warehouse panel, exactly as Grafana runs it. */
export function warehousePanelSql(): string {
  const panel = dashboardPanels(readDashboard()).find((p) => p.title === WAREHOUSE_PANEL_TITLE);
  const sql = panel?.targets?.[0]?.rawSql;
  if (!sql) throw new Error(`no panel "${WAREHOUSE_PANEL_TITLE}" with rawSql in the dashboard`);
  return sql;
}

/** A row of the warehouse panel's query. */
export interface WarehousePanelRow {
  time: Date;
  average_temp_f: number;
  num_observations: number;
  mean_temp_f: string;
}

/**
 * Compares the warehouse panel's rows with the reference hours: every hour exactly once, with
 * `average_temp_f` = floor(total / count), `num_observations` = count and `mean_temp_f` the exact
 * mean to 4 decimals. A row for an hour the reference lacks is wrong.
 */
export function checkWarehouseRows(
  rows: readonly WarehousePanelRow[],
  hours: ReadonlyMap<number, { total: number; count: number }>,
  problems: string[] = [],
): Tally {
  const tally = emptyTally();
  const byHour = new Map<number, WarehousePanelRow[]>();
  for (const row of rows) {
    const hour = new Date(row.time).getTime();
    byHour.set(hour, [...(byHour.get(hour) ?? []), row]);
  }
  for (const [hour, { total, count }] of hours) {
    tally.checked++;
    const found = byHour.get(hour) ?? [];
    byHour.delete(hour);
    if (found.length === 0) {
      tally.lost++;
      problems.push(`no row for ${new Date(hour).toISOString()}`);
      continue;
    }
    if (found.length > 1) {
      tally.doubled += found.length - 1;
      problems.push(`${found.length} rows for ${new Date(hour).toISOString()}`);
    }
    const mean = (total / count).toFixed(4);
    for (const row of found) {
      const exact =
        Number(row.average_temp_f) === Math.floor(total / count) &&
        Number(row.num_observations) === count &&
        Number(row.mean_temp_f).toFixed(4) === mean;
      if (!exact) {
        tally.wrong++;
        problems.push(
          `${new Date(hour).toISOString()}: ${row.mean_temp_f}F (${row.average_temp_f}) over ${row.num_observations}, expected ${mean}F over ${count}`,
        );
      }
    }
  }
  for (const [hour, extra] of byHour) {
    tally.wrong += extra.length;
    problems.push(`${new Date(hour).toISOString()}: a row for an hour without readings`);
  }
  return tally;
}

/** Deterministic hourly sums for hour `index` after 2025-01-01 (negative and fractional means too). */
export function syntheticHour(index: number): { total: number; count: number } {
  const count = 3_000 + (index % 601);
  return { total: count * 40 + ((index * 7_919) % 50_000) - 25_000, count };
}

export const SYNTHETIC_START_MS = Date.UTC(2025, 0, 1);

/**
 * Appends hours [from, from + count) to temps:averages as the aggregator writes them (entry ID the
 * hour's start, the seed's fields, `seq` = index + 1), capped like it at `maxlen` if given.
 */
export async function addSyntheticAverages(
  redis: Redis,
  from: number,
  count: number,
  maxlen?: number,
): Promise<void> {
  const pipeline = redis.pipeline();
  for (let index = from; index < from + count; index++) {
    const { total, count: n } = syntheticHour(index);
    const hourStartMs = SYNTHETIC_START_MS + index * HOUR_MS;
    const average = { hourStartMs, total, count: n, min: -30, max: 110 };
    const fields = { ...averageFields(average), seq: String(index + 1) };
    const cap = maxlen === undefined ? [] : ['MAXLEN', '=', String(maxlen)];
    pipeline.xadd(
      AVERAGES_STREAM,
      ...(cap as []),
      averageEntryId(average),
      ...Object.entries(fields).flat(),
    );
  }
  await pipeline.exec();
}

/** The reference for hours [0, count) as checkWarehouseRows takes it. */
export function syntheticHours(count: number, from = 0) {
  const hours = new Map<number, { total: number; count: number }>();
  for (let index = from; index < from + count; index++) {
    hours.set(SYNTHETIC_START_MS + index * HOUR_MS, syntheticHour(index));
  }
  return hours;
}
