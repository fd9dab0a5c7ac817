import { compareEntryIds, entryIdMs } from './entry-id';
import { advanceWhenDrained, lossReason, type SkipReason } from './partition-cursor';
import { partitionDayStart } from './partition-key';
import type { PartitionFold } from './partition-fold';
import {
  EMPTY_WINDOW,
  closeThrough,
  publishedUntil,
  type HourlyAverage,
  type WindowState,
} from './hourly-window';
import type { PartialHourReason, ReadingRejectReason } from './reasons';
import { DAY_MS, HOUR_MS, startOfHour } from './time';

/**
 * The aggregator's step machine. Everything the aggregating consumer decides is decided here, from
 * its saved state, what a fold of its partition returned, the producer's watermark and which
 * partitions exist; the service only reads, calls these, and commits what they return.
 *
 * States (what the last turn found), and the transitions between them:
 *
 *   FOLDING  — the fold consumed entries and reached its bound: commit, fold again at once.
 *   CAUGHT_UP — the fold reached the end of the partition: commit what it consumed, closing the
 *              open hour if the watermark has passed its end; then DRAINED.
 *   HOLDING  — the fold stopped at an entry at or past the watermark (a clock running ahead): the
 *              cursor stays before it so nothing written later is passed over; each early entry is
 *              counted once (`earlyThrough`, saved with the state, so also once across restarts);
 *              wait for the watermark.
 *   DRAINED  — nothing more to read here: close the open hour if the watermark passed it; move to
 *              the next day once this one is finished (skipping days that are finished but absent:
 *              `empty`, or `expired` before they were read), or wait (WAITING).
 *
 * PARTIAL HOURS. An hour some of whose readings were lost before they were read (their partition
 * disappeared: expired, or evicted under `maxmemory`) is published marked `partial`, with the
 * reason (`lossReason`), never as a complete hour. Readings are lost after the cursor when the
 * partition no longer holds any entry up to it — absent, empty, or begun again with later entries
 * (`fold.head` after the cursor). Then the open hour is partial, and so is the hour of the
 * partition's new first entry (its beginning was lost), unless that entry is the hour's very first
 * possible ID. Hours in between get no average at all: they are missing, not partial, as are the
 * hours of a partition skipped unread. The mark travels with the open hour (`window.partial`, saved
 * with the state) until the hour closes; the new first entry's hour, until it opens, in
 * `partialHour` (its first entries may be unusable ones).
 *
 * A state only ever moves forward: the cursor, `publishedUntilMs` and `earlyThrough` never go back,
 * and a step that fails to commit is decided again from the saved state.
 */

/** Where the aggregator stands: its cursor (partition and last entry read there) and its open hour. */
export interface AggregatorState {
  streamKey: string;
  /** '0' before the first entry of the partition. */
  lastId: string;
  window: WindowState;
  /** Unix ms: every hour before it is published; a reading before it is `late` (0: none yet). */
  publishedUntilMs: number;
  /**
   * Partitions left behind, each with the last entry ID read there ('0': skipped unread), so that
   * entries written there afterwards are counted as `late`.
   */
  left?: Readonly<Record<string, string>>;
  /** The newest entry already counted as `early` (null: none), so each is counted once. */
  earlyThrough?: string | null;
  /**
   * An hour of this partition whose beginning was lost (the partition was written again from an
   * entry inside it), not yet open: marked partial once it opens. Kept until the cursor passes it.
   */
  partialHour?: { hourStartMs: number; reason: PartialHourReason };
}

/** Left partitions whose late entries are still watched: the most recent ones. */
export const LEFT_PARTITIONS_KEPT = 31;

export function initialState(streamKey: string): AggregatorState {
  return { streamKey, lastId: '0', window: EMPTY_WINDOW, publishedUntilMs: 0 };
}

/** `left` with `marks` added, keeping the LEFT_PARTITIONS_KEPT most recent partitions. */
export function leaveMark(
  left: Readonly<Record<string, string>> | undefined,
  marks: Record<string, string>,
): Record<string, string> {
  const all = { ...left, ...marks };
  const kept = Object.keys(all).sort().slice(-LEFT_PARTITIONS_KEPT);
  return Object.fromEntries(kept.map((key) => [key, all[key]]));
}

/** What to commit (atomically: averages, then the state) and what to report. */
export interface StepCommit {
  to: AggregatorState;
  closed: HourlyAverage[];
  /**
   * Stretches of time whose readings this step found lost before they were read (a partition gone,
   * begun again later, or skipped unread). One partition a day publishes nothing for them; over
   * lanes, an hour another lane publishes is marked partial where this lane's share was lost.
   */
  lost: LostRange[];
}

/** Unix ms [fromMs, untilMs) whose readings were lost, and why. */
export interface LostRange {
  fromMs: number;
  untilMs: number;
  reason: PartialHourReason;
}

export type FoldOutcome = 'folding' | 'caught_up' | 'holding';

export interface FoldStep extends StepCommit {
  outcome: FoldOutcome;
  /** Whether there is anything to commit (entries consumed, hours closed, early entries counted). */
  commit: boolean;
  accepted: number;
  rejected: Partial<Record<ReadingRejectReason, number>>;
  /** Early entries met for the first time: report them once. */
  early: { firstId: string; count: number } | null;
}

/**
 * After a fold of the current partition (FOLDING, CAUGHT_UP or HOLDING). `watermarkMs` is the one
 * the fold ran with (read in the same atomic step, so every reading before it was there to fold).
 * A `fresh` fold began at an hour with an empty window (a range folded ahead): the open hour is
 * joined to it — closed by its first entry of a later hour, or kept when it had none.
 */
export function afterFold(
  state: AggregatorState,
  fold: PartitionFold,
  watermarkMs: number | null,
  fresh = false,
): FoldStep {
  // Hours whose readings were lost before this fold: marked before anything can close them.
  const lost = lostHours(state, fold.head, watermarkMs);
  const lostRange: LostRange[] = lost.open
    ? [
        {
          fromMs: positionMs(state),
          untilMs: fold.head === null ? dayEndMs(state.streamKey) : entryIdMs(fold.head),
          reason: lost.open,
        },
      ]
    : [];
  const pending = lost.head ?? state.partialHour;
  const marks = new Map<number, PartialHourReason>();
  const open = state.window.count > 0 && (state.window.partial ?? lost.open);
  if (open) marks.set(state.window.hourStartMs, open);
  if (pending && !marks.has(pending.hourStartMs)) marks.set(pending.hourStartMs, pending.reason);
  const window = markHour(state.window, marks);
  const folded = fresh ? joinOpenHour(window, fold) : fold;
  const joined = {
    window: markHour(folded.window, marks),
    closed: folded.closed.map((hour) => markHour(hour, marks)),
  };
  const outcome: FoldOutcome = fold.early ? 'holding' : fold.more ? 'folding' : 'caught_up';
  // Caught up (or held) with the watermark past the open hour: no reading of it can still come.
  const closing =
    outcome !== 'folding' && watermarkMs !== null
      ? closeThrough(joined.window, watermarkMs)
      : { state: joined.window, closed: [] };
  const closed = [...joined.closed, ...closing.closed];
  const early =
    fold.early && fold.early.uncounted > 0
      ? { firstId: fold.early.firstId, count: fold.early.uncounted }
      : null;
  const { partialHour: _pending, ...rest } = state;
  const moved: AggregatorState = {
    ...rest,
    lastId: fold.lastId ?? state.lastId,
    window: closing.state,
    publishedUntilMs: publishedUntil(state.publishedUntilMs, closed),
    ...(fold.early ? { earlyThrough: fold.early.through } : {}),
  };
  // The hour whose beginning was lost stays pending until the cursor has passed it.
  const to: AggregatorState =
    pending && positionMs(moved) < pending.hourStartMs + HOUR_MS
      ? { ...moved, partialHour: pending }
      : moved;
  return {
    outcome,
    to,
    closed,
    lost: lostRange,
    commit:
      fold.consumed > 0 ||
      closed.length > 0 ||
      early !== null ||
      closing.state.partial !== state.window.partial ||
      to.partialHour?.hourStartMs !== state.partialHour?.hourStartMs,
    accepted: fold.accepted,
    rejected: fold.rejected,
    early,
  };
}

/**
 * The hours readings were lost from, by their start, when the partition holds no entry up to the
 * cursor any more (`head`: its first entry, null when it is absent or empty): the open hour, and the
 * hour of the new first entry unless nothing of that hour can come before it.
 */
function lostHours(
  state: AggregatorState,
  head: string | null,
  watermarkMs: number | null,
): { open?: PartialHourReason; head?: { hourStartMs: number; reason: PartialHourReason } } {
  if (state.lastId === '0' || (head !== null && compareEntryIds(head, state.lastId) <= 0)) {
    return {};
  }
  const reason = lossReason(state.streamKey, watermarkMs);
  const hour = head === null ? null : startOfHour(entryIdMs(head));
  return {
    open: reason,
    ...(hour !== null && head !== `${hour}-0` ? { head: { hourStartMs: hour, reason } } : {}),
  };
}

/** The hour with its mark, if `marks` names it (a mark once set stays). */
function markHour<T extends WindowState>(
  hour: T,
  marks: ReadonlyMap<number, PartialHourReason>,
): T {
  const reason = marks.get(hour.hourStartMs);
  return hour.count > 0 && reason && !hour.partial ? { ...hour, partial: reason } : hour;
}

/** A fresh fold's hours after the open hour: that hour closes once the fold opened a later one. */
function joinOpenHour(
  open: WindowState,
  fold: PartitionFold,
): { window: WindowState; closed: HourlyAverage[] } {
  if (fold.openedMs === null) return { window: open, closed: fold.closed };
  const closes = open.count > 0 && fold.openedMs > open.hourStartMs;
  return { window: fold.window, closed: closes ? [open, ...fold.closed] : fold.closed };
}

/** What the service sees of Redis when the current partition is drained. */
export interface DrainedView {
  watermarkMs: number | null;
  /** Whether the current partition is a stream in Redis. */
  currentExists: boolean;
  /** Day partitions holding readings, any order. */
  existing: readonly string[];
}

export type DrainStep =
  | { kind: 'wait' }
  /** Hours closed by the watermark, or (nothing closed) the open hour marked partial. */
  | (StepCommit & { kind: 'close' })
  | (StepCommit & { kind: 'move'; skipped: { key: string; reason: SkipReason }[] });

/**
 * DRAINED: nothing more to read in the current partition. Closes the open hour once the watermark
 * passed it, and moves on once the day is finished (see `advanceWhenDrained`): the partition left
 * is marked at the last entry read (entries written there later are `late`), days skipped at '0'.
 */
export function whenDrained(state: AggregatorState, view: DrainedView): DrainStep {
  // The partition vanished after some of it was read: the rest of the open hour is lost with it.
  const lost =
    !view.currentExists && state.lastId !== '0' && state.window.count > 0 && !state.window.partial;
  const window: WindowState = lost
    ? { ...state.window, partial: lossReason(state.streamKey, view.watermarkMs) }
    : state.window;
  const closing =
    view.watermarkMs === null
      ? { state: window, closed: [] }
      : closeThrough(window, view.watermarkMs);
  const advance = advanceWhenDrained({
    current: state.streamKey,
    currentExists: view.currentExists,
    currentStarted: state.lastId !== '0',
    existing: view.existing,
    watermarkMs: view.watermarkMs,
  });
  const published = publishedUntil(state.publishedUntilMs, closing.closed);
  // The rest of a partition that vanished after the cursor is lost with it.
  const vanished: LostRange[] =
    !view.currentExists && state.lastId !== '0'
      ? [
          {
            fromMs: positionMs(state),
            untilMs: dayEndMs(state.streamKey),
            reason: lossReason(state.streamKey, view.watermarkMs),
          },
        ]
      : [];
  if (advance.kind === 'move') {
    const marks: Record<string, string> = Object.fromEntries(
      advance.skipped.map(({ key }) => [key, '0']),
    );
    if (view.currentExists) marks[state.streamKey] = state.lastId;
    const { partialHour: _pending, ...rest } = state;
    return {
      kind: 'move',
      to: {
        ...rest,
        streamKey: advance.to,
        lastId: '0',
        window: closing.state,
        publishedUntilMs: published,
        left: leaveMark(state.left, marks),
      },
      closed: closing.closed,
      skipped: advance.skipped,
      // Days skipped unread: their readings, if any were written, are lost (expired, or gone
      // while the watermark still kept them: evicted).
      lost: [
        ...vanished,
        ...advance.skipped.map(({ key }) => ({
          fromMs: partitionDayStart(key)!,
          untilMs: dayEndMs(key),
          reason: lossReason(key, view.watermarkMs),
        })),
      ],
    };
  }
  // A hour closed, or the open hour newly marked partial (saved so the mark survives a restart).
  if (closing.closed.length > 0 || lost) {
    return {
      kind: 'close',
      to: { ...state, window: closing.state, publishedUntilMs: published },
      closed: closing.closed,
      lost: vanished,
    };
  }
  return { kind: 'wait' };
}

/** The end of the day a partition covers (Unix ms, exclusive). */
function dayEndMs(key: string): number {
  return partitionDayStart(key)! + DAY_MS;
}

/**
 * Simulated time the aggregator has reached (Unix ms): its last entry, or the start of its
 * partition before the first.
 */
export function positionMs(state: AggregatorState): number {
  return state.lastId === '0'
    ? partitionDayStart(state.streamKey)!
    : Number(state.lastId.slice(0, state.lastId.indexOf('-')));
}

/** Simulated seconds between the watermark and the aggregator's position (0 when ahead). */
export function lagSeconds(state: AggregatorState, watermarkMs: number): number {
  return Math.max(0, watermarkMs - positionMs(state)) / 1000;
}

/** Whether the open hour or the day could close by the watermark alone: worth a drained turn now. */
export function watermarkPassed(state: AggregatorState, watermarkMs: number | null): boolean {
  if (watermarkMs === null) return false;
  const dayEnd = partitionDayStart(state.streamKey)! + DAY_MS;
  const hourEnd = state.window.count > 0 ? state.window.hourStartMs + HOUR_MS : Infinity;
  return watermarkMs >= Math.min(hourEnd, dayEnd);
}
