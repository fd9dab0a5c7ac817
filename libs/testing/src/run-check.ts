import type { RedisClient } from '@temps/redis';
import {
  DAY_MS,
  HOUR_MS,
  ReadingGenerator,
  deviceName,
  laneLayout,
  laneSeed,
  partitionKeyFor,
  partitionKeysBetween,
  type Lane,
} from '@temps/streams';

/** A bounded producer run, as given on its command line. */
export interface SimulatedRun {
  startMs: number;
  days: number;
  devices: number;
  seed: number;
  intervalMs?: number;
  /** Lanes (`--shards`): the devices split over this many lanes, each its own streams. */
  shards?: number;
}

/** One reading of the reference: its time, its index within its stream's tick, and its fields. */
interface Reading {
  ms: number;
  seq: number;
  temp: number;
  fields: string[];
}

/** What a check found: entries compared, and how many were missing, extra or different. */
export interface Tally {
  checked: number;
  lost: number;
  doubled: number;
  wrong: number;
}

export const emptyTally = (): Tally => ({ checked: 0, lost: 0, doubled: 0, wrong: 0 });

/**
 * The readings an uninterrupted run writes into one stream sequence, in ID order: the reference
 * every check compares to. Without `lane`, the exercise's layout (`device-N` names when there are
 * several devices); with it, that lane's readings (seeded from the run's seed and the lane, IDs
 * `<ms>-<i>` within the lane, `device_id` the device's global index).
 */
export function* expectedReadings(run: SimulatedRun, lane?: Lane): Generator<Reading> {
  const interval = run.intervalMs ?? 1_000;
  const generator = lane
    ? ReadingGenerator.seeded(laneSeed(run.seed, lane.index), lane.devices)
    : ReadingGenerator.seeded(run.seed, run.devices);
  const fieldsOf = (seq: number, temp: number): string[] =>
    lane
      ? ['temp_f', String(temp), 'device_id', String(lane.firstDevice + seq)]
      : run.devices > 1
        ? ['temp_f', String(temp), 'device_id', deviceName(seq)]
        : ['temp_f', String(temp)];
  const temps: number[] = [];
  for (let ms = run.startMs; ms < run.startMs + run.days * DAY_MS; ms += interval) {
    temps.length = 0;
    generator.next(1, temps);
    for (let seq = 0; seq < temps.length; seq++) {
      yield { ms, seq, temp: temps[seq], fields: fieldsOf(seq, temps[seq]) };
    }
  }
}

/** The run's lanes (null: the exercise's layout). */
export function lanesOf(run: SimulatedRun): Lane[] | null {
  return run.shards === undefined ? null : laneLayout(run.shards, run.devices);
}

/** Every hour's total and count, straight from the reference readings (of every lane). */
export function expectedHours(run: SimulatedRun): Map<number, { total: number; count: number }> {
  const hours = new Map<number, { total: number; count: number }>();
  for (const lane of lanesOf(run) ?? [undefined]) {
    for (const { ms, temp } of expectedReadings(run, lane)) {
      const hour = ms - (ms % HOUR_MS);
      const sums = hours.get(hour) ?? { total: 0, count: 0 };
      sums.total += temp;
      sums.count += 1;
      hours.set(hour, sums);
    }
  }
  return hours;
}

const idKey = (ms: number, seq: number) => ms * 10_000 + seq;

export interface CheckOptions {
  /** Entries a test put there itself, as `partition id`. */
  ignoreIds?: ReadonlySet<string>;
  /** Partitions a test deleted itself: neither they nor their readings are compared. */
  skipPartitions?: ReadonlySet<string>;
  /**
   * Compare only up to here (Unix ms, exclusive; e.g. a `--follow` run's watermark): a reading the
   * run has at or after it is doubled.
   */
  untilMs?: number;
}

/**
 * Compares every partition of the run with the reference readings, entry by entry (streamed in
 * pages, so millions of readings fit): a reference reading absent is lost, an entry the reference
 * lacks is doubled, one with other fields is wrong.
 */
export async function checkPartitions(
  redis: RedisClient,
  run: SimulatedRun,
  options: CheckOptions = {},
  page = 20_000,
): Promise<Tally> {
  const tally = emptyTally();
  for (const lane of lanesOf(run) ?? [undefined]) {
    const one = await checkLane(redis, run, lane, options, page);
    (Object.keys(tally) as (keyof Tally)[]).forEach((k) => (tally[k] += one[k]));
  }
  return tally;
}

/** checkPartitions for one lane's partitions (or the exercise's, without `lane`). */
async function checkLane(
  redis: RedisClient,
  run: SimulatedRun,
  lane: Lane | undefined,
  { ignoreIds = new Set(), skipPartitions = new Set(), untilMs = Infinity }: CheckOptions,
  page: number,
): Promise<Tally> {
  const tally = emptyTally();
  const tag = lane?.tag ?? null;
  const endMs = Math.min(run.startMs + run.days * DAY_MS, untilMs);
  const expected = (function* () {
    for (const reading of expectedReadings(run, lane)) {
      if (reading.ms >= endMs) return;
      yield reading;
    }
  })();
  let next = expected.next();
  for (const key of partitionKeysBetween(run.startMs, run.startMs + run.days * DAY_MS, tag)) {
    if (skipPartitions.has(key)) {
      while (!next.done && partitionKeyFor(next.value.ms, tag) === key) next = expected.next();
      continue;
    }
    let from = '-';
    for (;;) {
      const entries = await redis.xrange(key, from, '+', 'COUNT', page);
      for (const [id, fields] of entries) {
        if (ignoreIds.has(`${key} ${id}`)) continue;
        const [ms, seq] = id.split('-').map(Number);
        // Reference readings before this entry that it never reached are lost.
        while (!next.done && idKey(next.value.ms, next.value.seq) < idKey(ms, seq)) {
          tally.checked++;
          tally.lost++;
          next = expected.next();
        }
        if (next.done || idKey(next.value.ms, next.value.seq) > idKey(ms, seq)) {
          tally.doubled++;
          continue;
        }
        tally.checked++;
        if (fields.join('\u0000') !== next.value.fields.join('\u0000')) tally.wrong++;
        next = expected.next();
      }
      if (entries.length < page) break;
      from = `(${entries[entries.length - 1][0]}`;
    }
    // The rest of this day's reference readings are lost.
    while (!next.done && partitionKeyFor(next.value.ms, tag) === key) {
      tally.checked++;
      tally.lost++;
      next = expected.next();
    }
  }
  return tally;
}

/** An entry of temps:averages as a reader saw it. */
export interface SeenAverage {
  id: string;
  fields: Record<string, string>;
}

/**
 * Compares the averages seen on temps:averages with the reference hours: each hour must appear
 * exactly once, with `average_temp_f` = floor(total / count) and `num_observations` = count, and
 * the `seq` numbers must run 1, 2, … without a repeat. `ignoreIds` are entries a test put there;
 * `skipHours` are hours whose readings a test deleted (their averages, if any, are not judged).
 */
export function checkAverages(
  seen: readonly SeenAverage[],
  hours: ReadonlyMap<number, { total: number; count: number }>,
  {
    ignoreIds = new Set(),
    skipHours = new Set(),
  }: { ignoreIds?: ReadonlySet<string>; skipHours?: ReadonlySet<number> } = {},
  /** Receives a line per finding, for a failure message. */
  problems: string[] = [],
): Tally {
  const tally = emptyTally();
  const byHour = new Map<string, SeenAverage[]>();
  const seqs = new Set<string>();
  for (const average of seen) {
    if (ignoreIds.has(average.id)) continue;
    byHour.set(average.id, [...(byHour.get(average.id) ?? []), average]);
    if (seqs.has(average.fields.seq)) {
      tally.doubled++;
      problems.push(`seq ${average.fields.seq} again at ${average.id}`);
    }
    seqs.add(average.fields.seq);
  }
  for (const [hour, { total, count }] of hours) {
    if (skipHours.has(hour)) {
      byHour.delete(`${hour}-0`);
      continue;
    }
    tally.checked++;
    const found = byHour.get(`${hour}-0`) ?? [];
    byHour.delete(`${hour}-0`);
    if (found.length === 0) {
      tally.lost++;
      problems.push(`no average for ${hour}-0`);
    }
    if (found.length > 1) {
      tally.doubled += found.length - 1;
      problems.push(`${found.length} averages for ${hour}-0`);
    }
    const exact = (a: SeenAverage) =>
      a.fields.average_temp_f === String(Math.floor(total / count)) &&
      a.fields.num_observations === String(count);
    for (const wrong of found.filter((a) => !exact(a))) {
      tally.wrong++;
      problems.push(
        `${wrong.id}: ${wrong.fields.average_temp_f}F over ${wrong.fields.num_observations}, expected ${Math.floor(total / count)}F over ${count}`,
      );
    }
  }
  // Averages for hours the reference does not have at all.
  for (const extra of [...byHour.values()].flat()) {
    tally.wrong++;
    problems.push(`${extra.id}: an average for an hour without readings`);
  }
  const order = [...seqs];
  const gap = order.findIndex((s, i) => s !== String(i + 1));
  if (gap >= 0) {
    tally.wrong++;
    problems.push(
      `seq runs ${order.slice(Math.max(0, gap - 2), gap + 3).join(', ')} at position ${gap + 1}`,
    );
  }
  return tally;
}
