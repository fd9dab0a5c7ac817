import type { HourlyAverage } from './hourly-window';

/**
 * How an hourly average is laid out in temps:averages: the seed's fields (`hour`, `date`,
 * `average_temp_f` as the integer part, `num_observations`) plus the exact mean, min and max.
 * Its entry ID derives from the hour, so writing the same hour twice is refused by Redis.
 */
export function averageEntryId(average: HourlyAverage): string {
  return `${average.hourStartMs}-0`;
}

export function averageFields(average: HourlyAverage): Record<string, string> {
  const date = new Date(average.hourStartMs);
  const yyyy = String(date.getUTCFullYear()).padStart(4, '0');
  const mm = String(date.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(date.getUTCDate()).padStart(2, '0');
  const mean = average.total / average.count;
  return {
    hour: String(date.getUTCHours()),
    date: `${yyyy}/${mm}/${dd}`,
    average_temp_f: String(Math.floor(mean)),
    num_observations: String(average.count),
    mean_temp_f: mean.toFixed(4),
    min_temp_f: String(average.min),
    max_temp_f: String(average.max),
  };
}

/** The averages reader's line for an entry (the seed's wording). */
export function describeAverage(fields: Record<string, string>): string {
  return `Average temperature for ${fields.date} at ${fields.hour} was ${fields.average_temp_f}F (${fields.num_observations} observations).`;
}
