import fc from 'fast-check';
import {
  EMPTY_WINDOW,
  closeThrough,
  foldEntries,
  type HourlyAverage,
  type WindowEntry,
  type WindowState,
} from './hourly-window';
import { HOUR_MS } from './time';

const START = Date.UTC(2025, 0, 1);

/** Gaps between consecutive entries: same ms, same second, minutes, or whole hours (several per run). */
const gap = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 999 }), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 20 * 60_000 }), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 2 * HOUR_MS }), weight: 2 },
);

const payload = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 100 }).map((temp) => ({ temp })), weight: 9 },
  { arbitrary: fc.constant({ rejected: 'not_a_number' }), weight: 1 },
);

/** Time-ordered entries starting somewhere in the first day of 2025. */
const entriesArb = fc
  .tuple(
    fc.integer({ min: 0, max: 24 * HOUR_MS }),
    fc.array(fc.tuple(gap, payload), { maxLength: 150, size: 'medium' }),
  )
  .map(([offset, steps]) => {
    let ms = START + offset;
    return steps.map(([delta, p]): WindowEntry => {
      ms += delta;
      return { ms, ...p };
    });
  });

/** Entries with the same time-ordered entries cut into batches at generated points. */
const batchedArb = entriesArb.chain((entries) =>
  fc
    .array(fc.integer({ min: 0, max: entries.length }), { maxLength: 12 })
    .map((cuts) => ({ entries, batches: split(entries, cuts) })),
);

function split<T>(items: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts)].sort((a, b) => a - b);
  const batches: T[][] = [];
  let from = 0;
  for (const point of points) {
    batches.push(items.slice(from, point));
    from = point;
  }
  batches.push(items.slice(from));
  return batches;
}

const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function foldBatches(
  batches: readonly WindowEntry[][],
  persist: boolean,
): { state: WindowState; closed: HourlyAverage[] } {
  let state = EMPTY_WINDOW;
  const closed: HourlyAverage[] = [];
  for (const batch of batches) {
    const result = foldEntries(persist ? roundTrip(state) : state, batch);
    closed.push(...result.closed);
    state = result.state;
  }
  return { state, closed };
}

/** Independent reference: accepted readings grouped by hour number. */
function reference(entries: readonly WindowEntry[]): {
  state: WindowState;
  closed: HourlyAverage[];
} {
  const groups = new Map<number, HourlyAverage>();
  for (const entry of entries) {
    if ('rejected' in entry) continue;
    const hour = Math.floor(entry.ms / 3_600_000);
    const group = groups.get(hour);
    if (group === undefined) {
      groups.set(hour, {
        hourStartMs: hour * 3_600_000,
        total: entry.temp,
        count: 1,
        min: entry.temp,
        max: entry.temp,
      });
    } else {
      group.total += entry.temp;
      group.count += 1;
      group.min = Math.min(group.min, entry.temp);
      group.max = Math.max(group.max, entry.temp);
    }
  }
  const hours = [...groups.keys()].sort((a, b) => a - b);
  // An hour closes once any entry (accepted or rejected) of a later hour arrives.
  const lastHour = entries.length === 0 ? -Infinity : Math.floor(entries.at(-1)!.ms / 3_600_000);
  const closed = hours.filter((h) => h < lastHour).map((h) => groups.get(h)!);
  const open = groups.get(lastHour);
  return { state: open ?? EMPTY_WINDOW, closed };
}

describe('foldEntries', () => {
  it('gives the same averages and final state for any split into batches', () => {
    fc.assert(
      fc.property(batchedArb, ({ entries, batches }) => {
        const whole = foldEntries(EMPTY_WINDOW, entries);
        expect(foldBatches(batches, false)).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same averages when the state is saved (JSON) and restored between batches', () => {
    fc.assert(
      fc.property(batchedArb, ({ entries, batches }) => {
        const whole = foldEntries(EMPTY_WINDOW, entries);
        expect(foldBatches(batches, true)).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('resumes from a state saved at any single point', () => {
    fc.assert(
      fc.property(
        entriesArb.chain((entries) =>
          fc.tuple(fc.constant(entries), fc.integer({ min: 0, max: entries.length })),
        ),
        ([entries, at]) => {
          const first = foldEntries(EMPTY_WINDOW, entries.slice(0, at));
          const saved = JSON.stringify(first.state);
          const second = foldEntries(JSON.parse(saved) as WindowState, entries.slice(at));
          const whole = foldEntries(EMPTY_WINDOW, entries);
          expect([...first.closed, ...second.closed]).toEqual(whole.closed);
          expect(second.state).toEqual(whole.state);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('matches an independent per-hour computation; the last open hour is returned as state', () => {
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const result = foldEntries(EMPTY_WINDOW, entries);
        expect(result).toEqual(reference(entries));
        // Closed hours are strictly increasing and never empty.
        const bad = result.closed.filter(
          (avg, i) =>
            avg.count < 1 ||
            avg.hourStartMs % HOUR_MS !== 0 ||
            (i > 0 && avg.hourStartMs <= result.closed[i - 1].hourStartMs),
        );
        expect(bad).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('matches the per-hour computation without rejected entries: every hour but the last closes', () => {
    const accepted = entriesArb.map((entries) => entries.filter((e) => !('rejected' in e)));
    fc.assert(
      fc.property(accepted, (entries) => {
        const ref = reference(entries);
        const result = foldEntries(EMPTY_WINDOW, entries);
        expect(result).toEqual(ref);
        if (entries.length > 0) {
          expect(result.state.count).toBeGreaterThan(0);
          expect(result.state.hourStartMs).toBe(Math.floor(entries.at(-1)!.ms / HOUR_MS) * HOUR_MS);
        } else {
          expect(result.state).toEqual(EMPTY_WINDOW);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('closeThrough closes the open hour once the watermark reaches its end, and not before', () => {
    fc.assert(
      fc.property(
        entriesArb,
        fc.integer({ min: 0, max: 3 * HOUR_MS }),
        fc.integer({ min: 1, max: HOUR_MS }),
        (entries, after, before) => {
          const { state } = foldEntries(EMPTY_WINDOW, entries);
          fc.pre(state.count > 0);
          const end = state.hourStartMs + HOUR_MS;
          expect(closeThrough(state, end + after)).toEqual({
            state: EMPTY_WINDOW,
            closed: [state],
          });
          expect(closeThrough(state, end - before)).toEqual({ state, closed: [] });
          // Together with the fold, the watermark yields exactly the reference hours.
          expect([
            ...foldEntries(EMPTY_WINDOW, entries).closed,
            ...closeThrough(state, end).closed,
          ]).toEqual(reference([...entries, { ms: end, rejected: 'x' }]).closed);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('lets a rejected entry of a later hour close the open hour without contributing', () => {
    const h0 = START;
    const result = foldEntries(EMPTY_WINDOW, [
      { ms: h0 + 10, temp: 40 },
      { ms: h0 + 20, temp: 60 },
      { ms: h0 + 30, rejected: 'not_a_number' },
      { ms: h0 + HOUR_MS + 5, rejected: 'not_a_number' },
    ]);
    expect(result).toEqual({
      state: EMPTY_WINDOW,
      closed: [{ hourStartMs: h0, total: 100, count: 2, min: 40, max: 60 }],
    });
  });

  it('does not close the open hour on a rejected entry of the same hour', () => {
    const h0 = START;
    const result = foldEntries(EMPTY_WINDOW, [
      { ms: h0 + 10, temp: 40 },
      { ms: h0 + HOUR_MS - 1, rejected: 'out_of_range' },
    ]);
    expect(result).toEqual({
      state: { hourStartMs: h0, total: 40, count: 1, min: 40, max: 40 },
      closed: [],
    });
  });

  it('ignores rejected entries: the averages equal those of the accepted entries alone', () => {
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const withRejected = foldEntries(EMPTY_WINDOW, entries);
        const onlyAccepted = foldEntries(
          EMPTY_WINDOW,
          entries.filter((e) => !('rejected' in e)),
        );
        // Rejected entries may close hours earlier but never change any hour's totals.
        const all = [...withRejected.closed, ...closeThrough(withRejected.state, Infinity).closed];
        const expected = [
          ...onlyAccepted.closed,
          ...closeThrough(onlyAccepted.state, Infinity).closed,
        ];
        expect(all).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('returns an empty window for no entries and keeps a given state unchanged', () => {
    expect(foldEntries(EMPTY_WINDOW, [])).toEqual({ state: EMPTY_WINDOW, closed: [] });
    const open: WindowState = { hourStartMs: START, total: 10, count: 2, min: 4, max: 6 };
    expect(foldEntries(open, [])).toEqual({ state: open, closed: [] });
  });

  it('does not mutate the state passed in', () => {
    const open: WindowState = { hourStartMs: START, total: 10, count: 2, min: 4, max: 6 };
    const copy = { ...open };
    foldEntries(open, [
      { ms: START + 1, temp: 100 },
      { ms: START + HOUR_MS, temp: 1 },
    ]);
    expect(open).toEqual(copy);
  });
});

describe('closeThrough', () => {
  it('closes nothing on an empty window, whatever the watermark', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 }), (watermark) => {
        expect(closeThrough(EMPTY_WINDOW, watermark)).toEqual({
          state: EMPTY_WINDOW,
          closed: [],
        });
      }),
      { numRuns: 100 },
    );
  });

  it('treats the watermark as exclusive: exactly the hour end closes it', () => {
    const open: WindowState = { hourStartMs: START, total: 5, count: 1, min: 5, max: 5 };
    expect(closeThrough(open, START + HOUR_MS - 1)).toEqual({ state: open, closed: [] });
    expect(closeThrough(open, START + HOUR_MS)).toEqual({ state: EMPTY_WINDOW, closed: [open] });
  });
});
