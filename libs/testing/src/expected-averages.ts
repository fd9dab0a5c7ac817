import type { Redis } from 'ioredis';
import { readStream } from './redis-snapshot';

export interface ExpectedAverage {
  id: string;
  date: string;
  hour: string;
  average: string;
  observations: string;
}

/**
 * Hourly averages computed straight from the raw partitions, independently of the aggregator's
 * code: every `temp_f` grouped by the UTC hour of its entry ID.
 */
export async function expectedAverages(
  redis: Redis,
  partitions: string[],
): Promise<ExpectedAverage[]> {
  const hours = new Map<number, { total: number; count: number }>();
  for (const key of partitions) {
    for (const line of await readStream(redis, key)) {
      const [id, ...fields] = line.split(' ');
      const temp = fields[fields.indexOf('temp_f') + 1];
      const hour = Math.floor(Number(id.split('-')[0]) / 3_600_000) * 3_600_000;
      const sums = hours.get(hour) ?? { total: 0, count: 0 };
      sums.total += Number(temp);
      sums.count += 1;
      hours.set(hour, sums);
    }
  }
  return [...hours]
    .sort(([a], [b]) => a - b)
    .map(([hour, { total, count }]) => {
      const iso = new Date(hour).toISOString();
      return {
        id: `${hour}-0`,
        date: iso.slice(0, 10).replaceAll('-', '/'),
        hour: String(new Date(hour).getUTCHours()),
        average: String(Math.floor(total / count)),
        observations: String(count),
      };
    });
}

/** temps:averages as the same shape, with each entry's `seq`. */
export async function actualAverages(redis: Redis): Promise<(ExpectedAverage & { seq: number })[]> {
  const entries = await redis.xrange('temps:averages', '-', '+');
  return entries.map(([id, flat]) => {
    const fields = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
    return {
      id,
      date: fields.date,
      hour: fields.hour,
      average: fields.average_temp_f,
      observations: fields.num_observations,
      seq: Number(fields.seq),
    };
  });
}
