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
  if (!hour || !/^\d{1,2}$/.test(hour) || Number(hour) > 23) return null;
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
