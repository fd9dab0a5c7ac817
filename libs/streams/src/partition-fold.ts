import { compareEntryIds, entryIdMs } from './entry-id';
import {
  foldEntries,
  type HourlyAverage,
  type WindowEntry,
  type WindowState,
} from './hourly-window';
import { decodeTemp, type Field } from './reading';
import type { ReadingRejectReason } from './reasons';

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
  /** Whether the bound was reached with no early entry: more may be waiting right now. */
  more: boolean;
  /** Hours the fold closed (an entry of a later hour arrived), oldest first. */
  closed: HourlyAverage[];
  /** The open hour after the fold. */
  window: WindowState;
  /** Entries left out, by reason (`late`, `wrong_partition` and the entry-level reasons). */
  rejected: Partial<Record<ReadingRejectReason, number>>;
  /** Early entries met for the first time (after `earlyThrough`): counted once. */
  early: { firstId: string; uncounted: number; through: string } | null;
}

/**
 * The reference fold: entries (in ID order, as XRANGE returns them after the cursor) folded into
 * the hourly window. An entry at or past the watermark stops the fold (it and all after it are
 * early); an ID outside the day is `wrong_partition` and one before `publishedUntilMs` is `late` —
 * neither closes an hour; an entry with unusable fields is rejected by reason but still closes the
 * hour before its own.
 */
export function foldPartition(
  input: FoldInput,
  entries: readonly (readonly [string, readonly Field[]])[],
  bound: number,
): PartitionFold {
  const dayEndMs = input.dayStartMs + 86_400_000;
  const usable: WindowEntry[] = [];
  const rejected: Partial<Record<ReadingRejectReason, number>> = {};
  const reject = (reason: ReadingRejectReason) => (rejected[reason] = (rejected[reason] ?? 0) + 1);
  let lastId: string | null = null;
  let consumed = 0;
  let accepted = 0;
  let early: PartitionFold['early'] = null;
  const batch = entries.slice(0, bound);
  for (let i = 0; i < batch.length; i++) {
    const [id, fields] = batch[i];
    const ms = entryIdMs(id);
    if (input.watermarkMs !== null && ms >= input.watermarkMs) {
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
    if (ms < input.dayStartMs || ms >= dayEndMs) reject('wrong_partition');
    else if (ms < input.publishedUntilMs) reject('late');
    else {
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
  return {
    lastId,
    consumed,
    accepted,
    more: early === null && batch.length >= bound && entries.length >= bound,
    closed,
    window,
    rejected,
    early,
  };
}
