import type { Insertable } from 'kysely';
import type { HourlyAveragesTable } from './schema';

export type HourlyRow = Insertable<HourlyAveragesTable>;

/** An hourly average as the sink takes it from temps:averages: the row, and its number in the stream. */
export interface StoredAverage {
  row: HourlyRow;
  seq: number;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Turns a temps:averages entry's flat field list into a warehouse row; null when a field is missing
 * or malformed (the entry is not an hourly average). The hour's start comes from `date` and `hour`.
 */
export function averageToRow(fields: readonly string[]): StoredAverage | null {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i], fields[i + 1]);
  const get = (name: string) => map.get(name) ?? '';
  const date = /^(\d{4})\/(\d{2})\/(\d{2})$/.exec(get('date'));
  const hour = get('hour');
  if (!date || !/^\d{1,2}$/.test(hour) || Number(hour) > 23) return null;
  const hourStartMs = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(hour));
  const hourStart = new Date(hourStartMs);
  if (Number.isNaN(hourStartMs) || hourStart.getUTCDate() !== Number(date[3])) return null;
  const [average, observations, seq] = ['average_temp_f', 'num_observations', 'seq'].map(get);
  const [mean, min, max] = ['mean_temp_f', 'min_temp_f', 'max_temp_f'].map(get);
  if (!/^-?\d+$/.test(average) || !/^[1-9]\d{0,8}$/.test(observations) || !/^\d+$/.test(seq)) {
    return null;
  }
  if (![mean, min, max].every((value) => DECIMAL.test(value))) return null;
  return {
    row: {
      hour_start: hourStart,
      date: `${date[1]}-${date[2]}-${date[3]}`,
      hour: Number(hour),
      average_temp_f: Number(average),
      num_observations: Number(observations),
      mean_temp_f: mean,
      min_temp_f: min,
      max_temp_f: max,
    },
    seq: Number(seq),
  };
}
