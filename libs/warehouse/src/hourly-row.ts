import type { Insertable } from 'kysely';
import { decodeAverage } from '@temps/streams';
import type { HourlyAveragesTable } from './schema';

export type HourlyRow = Insertable<HourlyAveragesTable>;

/** An hourly average as the sink takes it from temps:averages: the row, and its number in the stream. */
export interface StoredAverage {
  row: HourlyRow;
  /** Its `seq` in temps:averages; null for averages written without one (the exercise's format). */
  seq: number | null;
}

/**
 * Turns a temps:averages entry's flat field list into a warehouse row, reading it as the averages
 * reader does (`decodeAverage`: the exercise's four fields make an average, the rest are extras).
 * Null when it is not an hourly average or names an impossible hour (2025/02/30, 0 observations).
 * The hour's start comes from `date` and `hour`. An average written without this project's exact
 * figures gets NULL mean, min and max, unless its `average_temp_f` is itself a decimal: that is
 * the exact mean, and `average_temp_f` its integer part, as this project writes it. A partial hour
 * keeps its `partial` reason; a complete one gets NULL.
 */
export function averageToRow(fields: readonly string[]): StoredAverage | null {
  const average = decodeAverage(fields);
  if (!average) return null;
  const [year, month, day] = average.date.split('/').map(Number);
  const hourStart = new Date(Date.UTC(year, month - 1, day, Number(average.hour)));
  if (hourStart.getUTCMonth() !== month - 1 || hourStart.getUTCDate() !== day) return null;
  const observations = Number(average.observations);
  if (observations < 1 || observations > 999_999_999) return null;
  const written = Number(average.averageTempF);
  const decimal = !Number.isInteger(written);
  return {
    row: {
      hour_start: hourStart,
      date: average.date.replaceAll('/', '-'),
      hour: Number(average.hour),
      average_temp_f: Math.trunc(written),
      num_observations: observations,
      mean_temp_f: average.exact?.mean ?? (decimal ? average.averageTempF : null),
      min_temp_f: average.exact?.min ?? null,
      max_temp_f: average.exact?.max ?? null,
      partial: average.partial,
    },
    seq: average.seq,
  };
}
