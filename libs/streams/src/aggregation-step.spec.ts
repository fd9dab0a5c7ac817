import fc from 'fast-check';
import { partitionEntries, type RawEntry } from '@temps/testing';
import {
  afterFold,
  initialState,
  positionMs,
  whenDrained,
  type AggregatorState,
} from './aggregation-step';
import { entryIdMs } from './entry-id';
import {
  EMPTY_WINDOW,
  closeThrough,
  foldEntries,
  type HourlyAverage,
  type WindowEntry,
} from './hourly-window';
import {
  foldPartition,
  rangeAfter,
  rangeAfterRange,
  rangeRest,
  type FoldRange,
} from './partition-fold';
import { decodeTemp } from './reading';
import { RETENTION_MS, DAY_MS, HOUR_MS, startOfHour } from './time';

const DAY = Date.UTC(2025, 0, 1);
const KEY = 'temps:20250101';

/** The reference model: every entry of the day before the watermark, folded in one go. */
function reference(entries: readonly RawEntry[], watermarkMs: number | null) {
  const usable: WindowEntry[] = [];
  for (const [id, fields] of entries) {
    const ms = entryIdMs(id);
    if (ms < DAY || ms >= DAY + DAY_MS) continue;
    if (watermarkMs !== null && ms >= watermarkMs) break;
    const temp = decodeTemp(fields);
    usable.push(typeof temp === 'number' ? { ms, temp } : { ms, rejected: temp });
  }
  const folded = foldEntries(EMPTY_WINDOW, usable);
  if (watermarkMs === null) return folded;
  const closing = closeThrough(folded.state, watermarkMs);
  return { state: closing.state, closed: [...folded.closed, ...closing.closed] };
}

/**
 * The step machine driven as the aggregator drives it: the cursor's range, then hour ranges folded
 * fresh, a range whose bound was reached finished first; each fold applied with `afterFold`.
 */
function drive(
  entries: readonly RawEntry[],
  watermarkMs: number | null,
  bound: number,
  from: AggregatorState = initialState(KEY),
) {
  let state = from;
  const closed: HourlyAverage[] = [];
  let range: FoldRange | null = rangeAfter(state.lastId, positionMs(state), DAY);
  let fresh = false;
  let folds = 0;
  while (range) {
    const input = {
      dayStartMs: DAY,
      publishedUntilMs: state.publishedUntilMs,
      watermarkMs,
      window: fresh ? EMPTY_WINDOW : state.window,
      earlyThrough: state.earlyThrough ?? null,
    };
    const fold = foldPartition(input, entries, range, bound);
    const step = afterFold(state, fold, watermarkMs, fresh);
    folds++;
    closed.push(...step.closed);
    state = step.to;
    if (step.outcome !== 'folding') break;
    if (!fold.exhausted) {
      fresh = fresh && fold.openedMs === null;
      range = rangeRest(range, fold.lastId!);
    } else {
      fresh = true;
      range = rangeAfterRange(range, DAY);
    }
  }
  return { state, closed, folds };
}

/** A partition and a watermark: none, anywhere, or exactly at an entry's time (the boundary case). */
const caseArb = partitionEntries(DAY).chain((entries) =>
  fc.tuple(
    fc.constant(entries),
    fc.oneof(
      fc.constant(null),
      fc.integer({ min: DAY, max: DAY + DAY_MS + HOUR_MS }),
      ...(entries.length > 0 ? [fc.constantFrom(...entries.map(([id]) => entryIdMs(id)))] : []),
    ),
  ),
);

describe('the step machine against the reference model', () => {
  it('folding a day in hour ranges, fresh ahead, with any bound, gives exactly the one-pass fold', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 60 }), ([entries, watermarkMs], bound) => {
        const expected = reference(entries, watermarkMs);
        const { state, closed } = drive(entries, watermarkMs, bound);
        // Bit for bit: the same hours, the same doubles.
        expect(closed).toEqual(expected.closed);
        expect(state.window).toEqual(expected.state);
        closed.forEach((hour, i) =>
          expect(Object.is(hour.total, expected.closed[i].total)).toBe(true),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('the cursor only moves forward, and ends at the last entry before the watermark', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 60 }), ([entries, watermarkMs], bound) => {
        const { state } = drive(entries, watermarkMs, bound);
        // The first entry of the day at or past the watermark stops the fold: the cursor stays before it.
        const inDay = (ms: number) => ms >= DAY && ms < DAY + DAY_MS;
        const stop = entries.findIndex(
          ([id]) => watermarkMs !== null && inDay(entryIdMs(id)) && entryIdMs(id) >= watermarkMs,
        );
        const read = stop < 0 ? entries : entries.slice(0, stop);
        expect(state.lastId).toBe(read.at(-1)?.[0] ?? '0');
      }),
      { numRuns: 200 },
    );
  });

  it('counts each early entry once, however often it is folded again', () => {
    const entries: RawEntry[] = [
      [`${DAY}-0`, ['temp_f', '50']],
      [`${DAY + 2 * HOUR_MS}-0`, ['temp_f', '60']],
      [`${DAY + 2 * HOUR_MS + 1}-0`, ['temp_f', '61']],
    ];
    const state = initialState(KEY);
    const watermarkMs = DAY + HOUR_MS;
    const input = {
      dayStartMs: DAY,
      publishedUntilMs: 0,
      watermarkMs,
      window: EMPTY_WINDOW,
      earlyThrough: null,
    };
    const range = { start: { afterId: '0' }, untilMs: null };
    const first = afterFold(state, foldPartition(input, entries, range, 10), watermarkMs);
    expect(first.outcome).toBe('holding');
    expect(first.early).toEqual({ firstId: `${DAY + 2 * HOUR_MS}-0`, count: 2 });
    // The hour before the watermark closes; the cursor stays before the early entries.
    expect(first.closed.map((h) => h.hourStartMs)).toEqual([DAY]);
    expect(first.to.lastId).toBe(`${DAY}-0`);

    const again = foldPartition(
      { ...input, window: first.to.window, earlyThrough: first.to.earlyThrough! },
      entries,
      { start: { afterId: first.to.lastId }, untilMs: null },
      10,
    );
    const second = afterFold(first.to, again, watermarkMs);
    expect(second.early).toBeNull();
    expect(second.commit).toBe(false);
  });
});

describe('whenDrained', () => {
  const open = { hourStartMs: DAY + 5 * HOUR_MS, total: 100, count: 2, min: 40, max: 60 };
  const at: AggregatorState = {
    ...initialState(KEY),
    lastId: `${DAY + 5 * HOUR_MS}-1`,
    window: open,
  };

  it('waits while the watermark is inside the open hour', () => {
    expect(
      whenDrained(at, { watermarkMs: DAY + 5 * HOUR_MS + 1, currentExists: true, existing: [KEY] }),
    ).toEqual({
      kind: 'wait',
    });
  });

  it('closes the open hour once the watermark passes it, and stays', () => {
    const step = whenDrained(at, {
      watermarkMs: DAY + 6 * HOUR_MS,
      currentExists: true,
      existing: [KEY],
    });
    expect(step).toMatchObject({ kind: 'close', closed: [open] });
    expect(step.kind !== 'wait' && step.to.publishedUntilMs).toBe(DAY + 6 * HOUR_MS);
  });

  it('moves to the next day once the day is finished, marking the day left at the last entry read', () => {
    const step = whenDrained(at, {
      watermarkMs: DAY + DAY_MS,
      currentExists: true,
      existing: [KEY, 'temps:20250102'],
    });
    expect(step).toMatchObject({ kind: 'move', closed: [open], skipped: [] });
    expect(step.kind === 'move' && step.to).toMatchObject({
      streamKey: 'temps:20250102',
      lastId: '0',
      left: { [KEY]: at.lastId },
    });
  });

  it('skips finished days that are absent, as empty or expired', () => {
    const step = whenDrained(at, {
      watermarkMs: DAY + 4 * DAY_MS,
      currentExists: false,
      existing: ['temps:20250104'],
    });
    expect(step.kind === 'move' && step.skipped).toEqual([
      { key: KEY, reason: 'expired' },
      { key: 'temps:20250102', reason: 'expired' },
      { key: 'temps:20250103', reason: 'empty' },
    ]);
  });
});

describe('partial hours: readings lost before they were read', () => {
  const hour = (h: number, minutes = 0) => DAY + h * HOUR_MS + minutes * 60_000;
  const reading = (ms: number, temp: number): RawEntry => [`${ms}-0`, ['temp_f', String(temp)]];
  const input = (state: AggregatorState, watermarkMs: number | null) => ({
    dayStartMs: DAY,
    publishedUntilMs: state.publishedUntilMs,
    watermarkMs,
    window: state.window,
    earlyThrough: null,
  });
  /** The aggregator has read hour 8 up to 08:20 (two readings), the producer being at 12:00. */
  const read = drive([reading(hour(8, 10), 30), reading(hour(8, 20), 32)], null, 10).state;
  const inDay = hour(12);

  it('closes the open hour as partial when the partition vanished mid-read (evicted before its retention)', () => {
    expect(read.window).toMatchObject({ hourStartMs: hour(8), count: 2 });
    const gone = afterFold(
      read,
      foldPartition(input(read, inDay), [], rangeAfter(read.lastId, positionMs(read), DAY), 10),
      inDay,
    );
    expect(gone.closed).toEqual([{ ...read.window, partial: 'evicted' }]);
    expect(gone.commit).toBe(true);
    // Expired: the watermark is past the day's retention.
    const late = DAY + DAY_MS + RETENTION_MS;
    const expired = whenDrained(read, { watermarkMs: late, currentExists: false, existing: [] });
    expect(expired.kind !== 'wait' && expired.closed).toEqual([
      { ...read.window, partial: 'expired' },
    ]);
  });

  it("names the stretches whose readings were lost (what lanes need to mark other lanes' hours)", () => {
    // Vanished mid-read: from the cursor to the day's end.
    const gone = afterFold(
      read,
      foldPartition(input(read, inDay), [], rangeAfter(read.lastId, positionMs(read), DAY), 10),
      inDay,
    );
    expect(gone.lost).toEqual([{ fromMs: hour(8, 20), untilMs: DAY + DAY_MS, reason: 'evicted' }]);
    // Begun again later: from the cursor to the new first entry.
    const again = afterFold(
      read,
      foldPartition(
        input(read, inDay),
        [reading(hour(10, 5), 40)],
        rangeAfter(read.lastId, positionMs(read), DAY),
        10,
      ),
      inDay,
    );
    expect(again.lost).toEqual([{ fromMs: hour(8, 20), untilMs: hour(10, 5), reason: 'evicted' }]);
    // Moving on past days skipped unread: each day, and the rest of the vanished one; expired once
    // the watermark is past a day's retention, evicted before.
    const late = DAY + 4 * DAY_MS;
    const moved = whenDrained(read, {
      watermarkMs: late,
      currentExists: false,
      existing: ['temps:20250104'],
    });
    expect(moved.kind === 'move' && moved.lost).toEqual([
      { fromMs: hour(8, 20), untilMs: DAY + DAY_MS, reason: 'expired' },
      { fromMs: DAY, untilMs: DAY + DAY_MS, reason: 'expired' },
      { fromMs: DAY + DAY_MS, untilMs: DAY + 2 * DAY_MS, reason: 'expired' },
      { fromMs: DAY + 2 * DAY_MS, untilMs: DAY + 3 * DAY_MS, reason: 'evicted' },
    ]);
    // Nothing lost: nothing named.
    const fine = whenDrained(read, { watermarkMs: hour(9), currentExists: true, existing: [KEY] });
    expect(fine.kind !== 'wait' ? fine.lost : []).toEqual([]);
  });

  it('marks the open hour at once, before the watermark can close it, and only once', () => {
    const marked = whenDrained(read, {
      watermarkMs: hour(8, 30),
      currentExists: false,
      existing: [],
    });
    expect(marked).toMatchObject({ kind: 'close', closed: [] });
    const to = marked.kind === 'close' ? marked.to : read;
    expect(to.window).toEqual({ ...read.window, partial: 'evicted' });
    expect(
      whenDrained(to, { watermarkMs: hour(8, 30), currentExists: false, existing: [] }),
    ).toEqual({
      kind: 'wait',
    });
    // Carried to the next day without a watermark, the mark closes with the hour there.
    const moved = whenDrained(read, {
      watermarkMs: null,
      currentExists: false,
      existing: ['temps:20250102'],
    });
    expect(moved.kind === 'move' && moved.to.window.partial).toBe('expired');
  });

  it('a partition written again after it vanished: the open hour and the new first hour are partial, the hours between missing', () => {
    const again = [reading(hour(10, 30), 50), reading(hour(10, 40), 52), reading(hour(11, 5), 60)];
    const { closed, state } = drive(again, hour(12), 10, read);
    expect(closed).toEqual([
      { ...read.window, partial: 'evicted' },
      { hourStartMs: hour(10), total: 102, count: 2, min: 50, max: 52, partial: 'evicted' },
      { hourStartMs: hour(11), total: 60, count: 1, min: 60, max: 60 },
    ]);
    expect(state.window).toEqual(EMPTY_WINDOW);
    // The same hour, continued: partial; an entry at the hour's very first ID loses nothing of it.
    const sameHour = drive([reading(hour(8, 40), 34)], hour(12), 10, read).closed;
    expect(sameHour).toEqual([
      { hourStartMs: hour(8), total: 96, count: 3, min: 30, max: 34, partial: 'evicted' },
    ]);
    // The new first entry unusable, read alone (bound 1): its hour is still marked once it opens.
    const badFirst: RawEntry[] = [[`${hour(10, 30)}-0`, ['humidity', '40']], ...again.slice(1)];
    expect(
      drive(badFirst, hour(12), 1, read).closed.map((h) => [h.hourStartMs, h.partial]),
    ).toEqual([
      [hour(8), 'evicted'],
      [hour(10), 'evicted'],
      [hour(11), undefined],
    ]);
    const atHour = drive([[`${hour(9)}-0`, ['temp_f', '40']]], hour(12), 10, read).closed;
    expect(atHour.map((h) => h.partial)).toEqual(['evicted', undefined]);
  });

  /**
   * A partition read up to its k-th entry (k ≥ 1), which then lost its entries before the j-th
   * (j ≥ k; j = n: it vanished) — evicted and written again, or gone — and was read to its end.
   */
  const lossArb = partitionEntries(DAY)
    .filter((entries) => entries.length > 0)
    .chain((entries) =>
      fc.record({
        entries: fc.constant(entries),
        k: fc.integer({ min: 1, max: entries.length }),
        lost: fc.integer({ min: 0, max: entries.length }),
        watermarkMs: fc.constantFrom(null, DAY + DAY_MS, DAY + DAY_MS + RETENTION_MS),
        bound: fc.integer({ min: 1, max: 60 }),
      }),
    )
    .map(({ entries, k, lost, ...rest }) => ({
      ...rest,
      entries,
      k,
      j: Math.min(entries.length, k + lost),
    }));

  function aggregateWithLoss({
    entries,
    k,
    j,
    watermarkMs,
    bound,
  }: {
    entries: RawEntry[];
    k: number;
    j: number;
    watermarkMs: number | null;
    bound: number;
  }) {
    // Read while the producer was still writing (no watermark past what was read).
    const first = drive(entries.slice(0, k), null, bound);
    const rest = entries.slice(j);
    const second = drive(rest, watermarkMs, bound, first.state);
    const end = whenDrained(second.state, {
      watermarkMs,
      currentExists: rest.length > 0,
      existing: rest.length > 0 ? [KEY] : [],
    });
    const closed = [...first.closed, ...second.closed, ...(end.kind === 'wait' ? [] : end.closed)];
    return { closed, readTo: first.state };
  }

  it('never publishes an hour that lost readings as complete: an unmarked hour is the true one, bit for bit', () => {
    fc.assert(
      fc.property(lossArb, (loss) => {
        const truth = reference(loss.entries, loss.watermarkMs);
        const trueHours = new Map(
          [...truth.closed, truth.state].map((h) => [h.hourStartMs, h] as const),
        );
        const { closed } = aggregateWithLoss(loss);
        for (const published of closed.filter((h) => !h.partial)) {
          const real = trueHours.get(published.hourStartMs);
          expect(published).toEqual(real);
          expect(Object.is(published.total, real!.total)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('marks at most the hour it was in and the hour the partition starts again at, and nothing when nothing was lost', () => {
    fc.assert(
      fc.property(lossArb, (loss) => {
        const { closed, readTo } = aggregateWithLoss(loss);
        const head = loss.entries[loss.j]?.[0];
        const allowed = [readTo.window.hourStartMs, head && startOfHour(entryIdMs(head))];
        const marked = closed.filter((h) => h.partial);
        marked.forEach((h) => expect(allowed).toContain(h.hourStartMs));
        const reason = loss.watermarkMs === DAY + DAY_MS ? 'evicted' : 'expired';
        marked.forEach((h) => expect(h.partial).toBe(reason));
        // The same partition, intact: nothing marked.
        const intact = aggregateWithLoss({ ...loss, j: 0 });
        expect(intact.closed.filter((h) => h.partial)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
