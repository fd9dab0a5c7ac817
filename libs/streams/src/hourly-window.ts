import type { PartialHourReason } from './reasons';
import { HOUR_MS, startOfHour } from './time';

/** The hour being aggregated and its running totals (no hour is open while `count` is 0). */
export interface WindowState {
  hourStartMs: number;
  total: number;
  count: number;
  min: number;
  max: number;
  /**
   * Set when readings of this hour were lost before they were read (its partition disappeared):
   * the hour is published marked as partial, with this reason. Absent for a complete hour. The fold
   * does not see it; the step machine (`afterFold`, `whenDrained`) sets and carries it.
   */
  partial?: PartialHourReason;
}

export const EMPTY_WINDOW: WindowState = { hourStartMs: 0, total: 0, count: 0, min: 0, max: 0 };

/** One closed hour: its start and totals. */
export type HourlyAverage = WindowState;

/** A partition entry as the window sees it: its time and `temp_f`, or why it is unusable. */
export type WindowEntry = { ms: number; temp: number } | { ms: number; rejected: string };

export interface FoldResult {
  state: WindowState;
  closed: HourlyAverage[];
}

/**
 * Folds entries (in time order) into the hourly window. An hour closes when an entry of a later
 * hour arrives (a rejected entry still proves that time has passed) or, through `closeThrough`,
 * when the producer's watermark passes the hour's end. Pure: the same entries split into any
 * batches, or interrupted and resumed from any saved state, give the same averages.
 */
export function foldEntries(state: WindowState, entries: readonly WindowEntry[]): FoldResult {
  const closed: HourlyAverage[] = [];
  // Local accumulators rather than a new object per entry: this runs for every reading.
  let { hourStartMs, total, count, min, max } = state;
  for (const entry of entries) {
    const hour = startOfHour(entry.ms);
    if (count > 0 && hour > hourStartMs) {
      closed.push({ hourStartMs, total, count, min, max });
      count = 0;
    }
    if ('rejected' in entry) continue;
    const temp = entry.temp;
    if (count === 0) {
      hourStartMs = hour;
      total = min = max = temp;
      count = 1;
    } else {
      total += temp;
      count++;
      if (temp < min) min = temp;
      if (temp > max) max = temp;
    }
  }
  return { state: count === 0 ? EMPTY_WINDOW : { hourStartMs, total, count, min, max }, closed };
}

/** Closes the open hour once the watermark (exclusive: all readings before it are in) passes its end. */
export function closeThrough(state: WindowState, watermarkMs: number): FoldResult {
  return state.count > 0 && watermarkMs >= state.hourStartMs + HOUR_MS
    ? { state: EMPTY_WINDOW, closed: [state] }
    : { state, closed: [] };
}

/**
 * How far hours are published once `closed` are: readings before the returned time (Unix ms) belong
 * to an hour whose average is already written, and can no longer count.
 */
export function publishedUntil(previousMs: number, closed: readonly HourlyAverage[]): number {
  const last = closed[closed.length - 1];
  return last ? Math.max(previousMs, last.hourStartMs + HOUR_MS) : previousMs;
}
