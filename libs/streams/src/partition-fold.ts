import { compareEntryIds, entryIdMs } from './entry-id';
import {
  foldEntries,
  type HourlyAverage,
  type WindowEntry,
  type WindowState,
} from './hourly-window';
import { decodeTemp, type Field } from './reading';
import type { ReadingRejectReason } from './reasons';
import { DAY_MS, HOUR_MS, startOfHour } from './time';

/**
 * A stretch of a partition to fold: after the cursor (continuing the open hour) or from the start
 * of an hour (with an empty window: `fresh`), up to the end of an hour. Ranges that start at an
 * hour do not depend on what came before them, so several can be folded at once and joined in
 * order (`afterFold` with `fresh`), with sums identical to one fold from the start.
 */
export interface FoldRange {
  start: { afterId: string } | { hourMs: number };
  /** Unix ms, exclusive; null: to the partition's end (the day's last hour, and whatever follows). */
  untilMs: number | null;
}

/**
 * The range from a cursor to the end of its hour (`afterId` '0': the partition's start). A cursor
 * before the day (an entry of another day read there) reads on to the end of the day's first hour,
 * so the hours in between are not walked one by one.
 */
export function rangeAfter(afterId: string, positionMs: number, dayStartMs: number): FoldRange {
  const hour = startOfHour(Math.max(positionMs, dayStartMs));
  return { start: { afterId }, untilMs: hourEnd(hour + HOUR_MS, dayStartMs) };
}

/** The next hour's range after `range` (null after the last one). */
export function rangeAfterRange(range: FoldRange, dayStartMs: number): FoldRange | null {
  if (range.untilMs === null) return null;
  return {
    start: { hourMs: range.untilMs },
    untilMs: hourEnd(range.untilMs + HOUR_MS, dayStartMs),
  };
}

/** A range whose bound was reached: the rest of it, after the last entry folded. */
export function rangeRest(range: FoldRange, lastId: string): FoldRange {
  return { start: { afterId: lastId }, untilMs: range.untilMs };
}

/** An hour's end as a range end: the day's last hour has none (entries past the day are read too). */
function hourEnd(endMs: number, dayStartMs: number): number | null {
  return endMs >= dayStartMs + DAY_MS ? null : endMs;
}

/** Whether an entry ID falls in a range (after its cursor or from its hour, before its end). */
export function inRange(id: string, range: FoldRange): boolean {
  const ms = entryIdMs(id);
  if (range.untilMs !== null && ms >= range.untilMs) return false;
  return 'afterId' in range.start
    ? range.start.afterId === '0' || compareEntryIds(id, range.start.afterId) > 0
    : ms >= range.start.hourMs;
}

/**
 * What one fold of a partition starts from: where the cursor stands and what the step machine
 * knows. The fold runs inside Redis (the aggregator's `fold-partition` script); this module is its
 * specification in TypeScript, and the script is tested to return exactly what `foldPartition`
 * returns for the same entries.
 */
export interface FoldInput {
  /** Unix ms: the partition's day is [dayStartMs, dayStartMs + DAY_MS). */
  dayStartMs: number;
  /** Unix ms: readings before it belong to an hour already published (`late`). */
  publishedUntilMs: number;
  /** Unix ms: the producer's watermark (readings at or after it are `early`); null: no producer. */
  watermarkMs: number | null;
  /** The open hour, continued by the fold. */
  window: WindowState;
  /** The newest early entry already counted (null: none), so each early entry is counted once. */
  earlyThrough: string | null;
}

/** The fold of the entries after a cursor, up to a bound, as the step machine sees it. */
export interface PartitionFold {
  /** The last entry folded (null: none). Early entries are never folded: the cursor stays before them. */
  lastId: string | null;
  /** Entries folded: accepted + rejected (not early). */
  consumed: number;
  /** Readings that entered an hour. */
  accepted: number;
  /**
   * No early entry, and the bound was reached or the partition holds entries past the range: more
   * may be waiting right now.
   */
  more: boolean;
  /** Whether the range was read to its end (the bound was not reached, no early entry). */
  exhausted: boolean;
  /** The first hour an entry of this fold opened or proved (Unix ms; null: none). */
  openedMs: number | null;
  /** Hours the fold closed (an entry of a later hour arrived), oldest first. */
  closed: HourlyAverage[];
  /** The open hour after the fold. */
  window: WindowState;
  /** Entries left out, by reason (`late`, `wrong_partition` and the entry-level reasons). */
  rejected: Partial<Record<ReadingRejectReason, number>>;
  /** Early entries met for the first time (after `earlyThrough`): counted once. */
  early: { firstId: string; uncounted: number; through: string } | null;
  /**
   * The partition's first entry when the fold ran (null: the partition is absent or empty). A
   * cursor before it means the partition lost entries after the cursor before they were read (it
   * disappeared, and was written again): `afterFold` marks the hours concerned as partial.
   */
  head: string | null;
}

/**
 * The reference fold: the partition's entries (all of them, in ID order) in `range`, up to `bound`,
 * folded into the hourly window. An ID outside the day is `wrong_partition`; an entry of the day at
 * or past the watermark stops the fold (it and all after it are early); one before
 * `publishedUntilMs` is `late` — neither closes an hour; an entry with unusable fields is rejected by reason but still
 * closes the hour before its own.
 */
export function foldPartition(
  input: FoldInput,
  partition: readonly (readonly [string, readonly Field[]])[],
  range: FoldRange,
  bound: number,
): PartitionFold {
  const dayEndMs = input.dayStartMs + DAY_MS;
  const usable: WindowEntry[] = [];
  const rejected: Partial<Record<ReadingRejectReason, number>> = {};
  const reject = (reason: ReadingRejectReason) => (rejected[reason] = (rejected[reason] ?? 0) + 1);
  let lastId: string | null = null;
  let consumed = 0;
  let accepted = 0;
  let openedMs: number | null = null;
  let early: PartitionFold['early'] = null;
  const batch = partition.filter(([id]) => inRange(id, range)).slice(0, bound);
  for (let i = 0; i < batch.length; i++) {
    const [id, fields] = batch[i];
    const ms = entryIdMs(id);
    // Outside the day is wrong whatever the watermark says (an ID from a real clock must not hold
    // the day back as early).
    const outside = ms < input.dayStartMs || ms >= dayEndMs;
    if (!outside && input.watermarkMs !== null && ms >= input.watermarkMs) {
      const ids = batch.slice(i).map(([earlyId]) => earlyId);
      const uncounted = ids.filter(
        (earlyId) =>
          input.earlyThrough === null || compareEntryIds(earlyId, input.earlyThrough) > 0,
      ).length;
      const newest = ids[ids.length - 1];
      const through =
        input.earlyThrough !== null && compareEntryIds(input.earlyThrough, newest) > 0
          ? input.earlyThrough
          : newest;
      early = { firstId: id, uncounted, through };
      break;
    }
    lastId = id;
    consumed++;
    if (outside) reject('wrong_partition');
    else if (ms < input.publishedUntilMs) reject('late');
    else {
      openedMs ??= startOfHour(ms);
      const temp = decodeTemp(fields);
      if (typeof temp === 'number') {
        usable.push({ ms, temp });
        accepted++;
      } else {
        reject(temp);
        usable.push({ ms, rejected: temp });
      }
    }
  }
  const { state: window, closed } = foldEntries(input.window, usable);
  const exhausted = early === null && batch.length < bound;
  const beyond =
    range.untilMs !== null && partition.some(([id]) => entryIdMs(id) >= range.untilMs!);
  return {
    lastId,
    consumed,
    accepted,
    more: early === null && (!exhausted || beyond),
    exhausted,
    openedMs,
    closed,
    window,
    rejected,
    early,
    head: partition[0]?.[0] ?? null,
  };
}
