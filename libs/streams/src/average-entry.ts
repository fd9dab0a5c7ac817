import { utcDay } from './time';
import type { HourlyAverage } from './hourly-window';
import type { PartialHourReason } from './reasons';

/**
 * How an hourly average is laid out in temps:averages: the seed's fields (`hour`, `date`,
 * `average_temp_f` as the integer part, `num_observations`) plus the exact mean, min and max.
 * A partial hour (readings lost before they were read) has one more field, `partial`, naming why;
 * a complete hour has none. (The commit adds `seq`, the average's number in the stream.)
 * Its entry ID derives from the hour, so writing the same hour twice is refused by Redis.
 */
export function averageEntryId(average: HourlyAverage): string {
  return `${average.hourStartMs}-0`;
}

export function averageFields(average: HourlyAverage): Record<string, string> {
  const mean = average.total / average.count;
  return {
    hour: String(new Date(average.hourStartMs).getUTCHours()),
    date: utcDay(average.hourStartMs, '/'),
    average_temp_f: String(Math.trunc(mean)),
    num_observations: String(average.count),
    mean_temp_f: mean.toFixed(4),
    min_temp_f: String(average.min),
    max_temp_f: String(average.max),
    ...(average.partial ? { partial: average.partial } : {}),
  };
}

export interface AverageMessage {
  date: string;
  hour: string;
  /** As written: the integer part from this project, possibly a decimal from other writers. */
  averageTempF: string;
  observations: string;
  /**
   * The average's number in temps:averages (1, 2, …), or null for an average without `seq` — as
   * the exercise's reference aggregator writes them (`hour`, `date`, `average_temp_f`,
   * `num_observations` only).
   */
  seq: number | null;
  /**
   * This project's extras, when all three are there as decimals: the exact mean, min and max (°F,
   * as written). Null for averages written without them (the exercise's own format).
   */
  exact: { mean: string; min: string; max: string } | null;
  /**
   * Why the hour is partial (its `partial` field: `expired`, `evicted`, or another writer's word),
   * or null for a complete hour.
   */
  partial: string | null;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Reads an averages entry's flat field list as the exercise does: `date`, `hour`, `average_temp_f`
 * and `num_observations` make an average; `seq` and any other field are extras. Null when one of
 * the four is missing or malformed, or `seq` is there but not a number.
 */
export function decodeAverage(fields: readonly string[]): AverageMessage | null {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i], fields[i + 1]);
  const [date, hour, averageTempF, observations, seq, mean, min, max, partial] = [
    'date',
    'hour',
    'average_temp_f',
    'num_observations',
    'seq',
    'mean_temp_f',
    'min_temp_f',
    'max_temp_f',
    'partial',
  ].map((name) => map.get(name));
  if (!date || !/^\d{4}\/\d{2}\/\d{2}$/.test(date)) return null;
  if (!hour || !/^\d{1,2}$/.test(hour)) return null;
  if (!averageTempF || !DECIMAL.test(averageTempF)) return null;
  if (!observations || !/^\d+$/.test(observations)) return null;
  if (seq !== undefined && !/^\d+$/.test(seq)) return null;
  const exact =
    mean && min && max && [mean, min, max].every((value) => DECIMAL.test(value))
      ? { mean, min, max }
      : null;
  return {
    date,
    hour,
    averageTempF,
    observations,
    seq: seq === undefined ? null : Number(seq),
    exact,
    partial: partial || null,
  };
}

/** PostgreSQL's `integer`, the type of the warehouse's `average_temp_f` and `num_observations`. */
const INT32 = { min: -2_147_483_648, max: 2_147_483_647 };
/** PostgreSQL's `numeric` (mean, min, max): at most this many digits before and after the point. */
const NUMERIC_DIGITS = { before: 131_072, after: 16_383 };

/**
 * Why an average, well formed as decodeAverage reads it, names an hour or a value that cannot be:
 * a day the calendar does not have (2025/02/30, year 0000), an hour 24, a figure outside the warehouse's
 * column (an integer beyond ±2^31, a decimal beyond PostgreSQL's numeric), no observations, a
 * `seq` past 2^53. Null when the average is whole. One rule for both readers of temps:averages:
 * the averages reader prints only what passes, and the warehouse sink stores only what passes
 * (setting the rest aside with this reason), so the console and the warehouse agree.
 */
export function averageProblem(message: AverageMessage): string | null {
  const [year, month, day] = message.date.split('/').map(Number);
  const start = new Date(0);
  start.setUTCFullYear(year, month - 1, day);
  if (year < 1 || start.getUTCMonth() !== month - 1 || start.getUTCDate() !== day) {
    return `date ${message.date} is not a day of the calendar`;
  }
  if (Number(message.hour) > 23) return `hour ${message.hour} is outside 0…23`;
  if (!withinInt32(message.averageTempF.split('.')[0])) {
    return `average_temp_f ${clip(message.averageTempF)} is outside ${INT32.min}…${INT32.max}`;
  }
  if (!fitsNumeric(message.averageTempF)) {
    return `average_temp_f ${clip(message.averageTempF)} has more digits than PostgreSQL's numeric holds`;
  }
  if (!withinInt32(message.observations) || Number(message.observations) < 1) {
    return `num_observations ${clip(message.observations)} is outside 1…${INT32.max}`;
  }
  if (message.seq !== null && !Number.isSafeInteger(message.seq)) {
    return `seq is beyond ${Number.MAX_SAFE_INTEGER}`;
  }
  for (const [name, value] of Object.entries(message.exact ?? {})) {
    if (!fitsNumeric(value)) {
      return `${name}_temp_f ${clip(value)} has more digits than PostgreSQL's numeric holds`;
    }
  }
  return null;
}

/** An integer written as an optional minus and decimal digits (leading zeros allowed). */
function withinInt32(integer: string): boolean {
  if (integer.replace(/^-?0*/, '').length > 10) return false;
  const value = Number(integer);
  return value >= INT32.min && value <= INT32.max;
}

function fitsNumeric(decimal: string): boolean {
  const [whole, fraction = ''] = decimal.replace('-', '').split('.');
  return (
    whole.replace(/^0+/, '').length <= NUMERIC_DIGITS.before &&
    fraction.length <= NUMERIC_DIGITS.after
  );
}

/** A value for a one-line reason: a huge one is cut, with its length. */
function clip(value: string): string {
  return value.length <= 24 ? value : `${value.slice(0, 16)}… (${value.length} characters)`;
}

/** The averages reader's line for an entry (the seed's wording). */

const PARTIAL_CAUSES: Record<PartialHourReason, string> = {
  expired: 'partition expired before it was read',
  evicted: 'partition evicted or deleted before it was read',
};

/**
 * The averages reader's line for an entry: the seed's wording, and for a partial hour a suffix
 * saying readings were lost and why.
 */
export function describeAverage(message: AverageMessage): string {
  const line = `Average temperature for ${message.date} at ${message.hour} was ${message.averageTempF}F (${message.observations} observations).`;
  if (message.partial === null) return line;
  const cause = PARTIAL_CAUSES[message.partial as PartialHourReason] ?? message.partial;
  return `${line} — partial: readings lost (${cause})`;
}
