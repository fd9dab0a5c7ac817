import type { Insertable } from 'kysely';
import { averageProblem, decodeAverage, type AverageMessage } from '@temps/streams';
import type { HourlyAveragesTable } from './schema';

export type HourlyRow = Insertable<HourlyAveragesTable>;

/** An hourly average as the sink takes it from temps:averages: the row, and its number in the stream. */
export interface StoredAverage {
  row: HourlyRow;
  /** Its `seq` in temps:averages; null for averages written without one (the exercise's format). */
  seq: number | null;
}

/**
 * An entry that reads as an hourly average but names an hour or a value that cannot be stored
 * (averageProblem: 2025/02/30, `average_temp_f 3000000000`, …): the sink sets it aside.
 */
export interface UnstorableAverage {
  problem: string;
  /** Its `seq` when that is a usable number (the position still moves past it); else null. */
  seq: number | null;
}

/**
 * Turns a temps:averages entry's flat field list into a warehouse row, reading it as the averages
 * reader does (`decodeAverage`: the exercise's four fields make an average, the rest are extras;
 * `averageProblem`: what neither prints nor stores). Null when it is not an hourly average;
 * `{ problem }` when it names an impossible hour or a value the table cannot hold.
 */
export function averageToRow(fields: readonly string[]): StoredAverage | UnstorableAverage | null {
  const average = decodeAverage(fields);
  if (!average) return null;
  const problem = averageProblem(average);
  if (problem !== null) {
    return { problem, seq: Number.isSafeInteger(average.seq) ? average.seq : null };
  }
  return { row: hourlyRow(average), seq: average.seq };
}

/**
 * The row for an average, checked or not (averageToRow checks first): the hour's start comes from
 * `date` and `hour`. An average written without this project's exact figures gets NULL mean, min
 * and max, unless its `average_temp_f` is itself a decimal: that is the exact mean, and
 * `average_temp_f` its integer part, as this project writes it. A partial hour keeps its `partial`
 * reason; a complete one gets NULL.
 */
export function hourlyRow(average: AverageMessage): HourlyRow {
  const [year, month, day] = average.date.split('/').map(Number);
  const hourStart = new Date(0);
  hourStart.setUTCFullYear(year, month - 1, day);
  hourStart.setUTCHours(Number(average.hour));
  const written = Number(average.averageTempF);
  const decimal = !Number.isInteger(written);
  return {
    hour_start: hourStart,
    date: average.date.replaceAll('/', '-'),
    hour: Number(average.hour),
    average_temp_f: Math.trunc(written),
    num_observations: Number(average.observations),
    mean_temp_f: average.exact?.mean ?? (decimal ? average.averageTempF : null),
    min_temp_f: average.exact?.min ?? null,
    max_temp_f: average.exact?.max ?? null,
    partial: average.partial,
  };
}
