import fc from 'fast-check';
import { initialState, type AggregatorState } from './aggregation-step';
import type { HourlyAverage } from './hourly-window';
import { afterLaneStep, laneFrontier, mergeHours, type LanesState } from './lane-merge';
import { HOUR_MS } from './time';

const DAY = Date.UTC(2025, 0, 1);
const KEY = 'temps:20250101:{0.3}';

/** A lane whose open hour starts at `hour` (its frontier), with some readings in it. */
function openAt(hour: number): AggregatorState {
  return {
    ...initialState(KEY),
    lastId: `${DAY + hour * HOUR_MS}-0`,
    window: { hourStartMs: DAY + hour * HOUR_MS, total: 1, count: 1, min: 1, max: 1 },
  };
}

const hourOf = (h: number, total: number, count: number): HourlyAverage => ({
  hourStartMs: DAY + h * HOUR_MS,
  total,
  count,
  min: total / count,
  max: total / count,
});

describe('lane merge', () => {
  it('publishes each hour once, in order, when every lane has settled it, summed lane by lane, partial where a lane lost its share', () => {
    // Each lane closes hours 0…H-1 in random steps, the lanes' steps interleaved; a lane's hour has
    // readings, none (nothing was written: no share, no mark), or was lost (no share, a lost range).
    const laneArb = fc.array(
      fc.record({
        kind: fc.constantFrom('ok', 'ok', 'ok', 'none', 'lost'),
        total: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((t) => t + 0), // no -0
        count: fc.integer({ min: 1, max: 3600 }),
      }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(
        fc.array(laneArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (lanes, order) => {
          const S = lanes.length;
          let state: LanesState = {
            lanes: lanes.map(() => openAt(0)),
            pending: lanes.map(() => []),
            lost: lanes.map(() => []),
            publishedUntilMs: 0,
          };
          const next = lanes.map(() => 0); // the next hour each lane closes
          const published: HourlyAverage[] = [];
          const step = (lane: number) => {
            const h = next[lane];
            if (h >= lanes[lane].length) return;
            next[lane]++;
            const { kind, total, count } = lanes[lane][h];
            const closed = kind === 'ok' ? [hourOf(h, total, count)] : [];
            const lost =
              kind === 'lost'
                ? [
                    {
                      fromMs: DAY + h * HOUR_MS,
                      untilMs: DAY + (h + 1) * HOUR_MS,
                      reason: 'expired' as const,
                    },
                  ]
                : [];
            const r = afterLaneStep(state, lane, openAt(h + 1), closed, lost);
            // Nothing is published past the slowest lane's frontier.
            const until = Math.min(...r.state.lanes.map(laneFrontier));
            r.published.forEach((p) => expect(p.hourStartMs).toBeLessThan(until));
            published.push(...r.published);
            state = r.state;
          };
          order.forEach((pick) => step(pick % S));
          for (let lane = 0; lane < S; lane++) while (next[lane] < lanes[lane].length) step(lane);

          const hours = published.map((p) => p.hourStartMs);
          expect(hours).toEqual([...new Set(hours)].sort((a, b) => a - b));
          // Every hour below the slowest lane's last frontier, from every lane that had it.
          const last = Math.min(...lanes.map((l) => l.length));
          for (let h = 0; h < last; h++) {
            // Summed from the first lane that has the hour (0 + -0 would turn -0 into 0).
            let total: number | null = null;
            let count = 0;
            lanes.forEach((l) => {
              if (l[h].kind === 'ok')
                [total, count] = [(total ?? 0) + l[h].total, count + l[h].count];
            });
            const got = published.find((p) => p.hourStartMs === DAY + h * HOUR_MS);
            if (count === 0) {
              expect(got).toBeUndefined();
              continue;
            }
            expect(got && [got.total, got.count]).toEqual([total, count]);
            const lostShare = lanes.some((l) => l[h].kind === 'lost');
            expect(got?.partial).toBe(lostShare ? 'expired' : undefined);
          }
          expect(published.every((p) => p.hourStartMs < DAY + last * HOUR_MS)).toBe(true);
          // Lost stretches are dropped once every hour they touch is settled.
          const until = Math.min(...state.lanes.map(laneFrontier));
          state.lost.flat().forEach((r) => expect(r.untilMs).toBeGreaterThan(until));
        },
      ),
    );
  });

  it('holds every hour back while one lane has not moved (a lane with no producer)', () => {
    let state: LanesState = {
      lanes: [openAt(0), openAt(0), openAt(0)],
      pending: [[], [], []],
      lost: [[], [], []],
      publishedUntilMs: 0,
    };
    for (let h = 0; h < 5; h++) {
      for (const lane of [0, 2]) {
        const r = afterLaneStep(state, lane, openAt(h + 1), [hourOf(h, 10, 1)]);
        expect(r.published).toEqual([]);
        state = r.state;
      }
    }
    const r = afterLaneStep(state, 1, openAt(3), [
      hourOf(0, 1, 1),
      hourOf(1, 2, 1),
      hourOf(2, 3, 1),
    ]);
    expect(r.published.map((p) => [p.hourStartMs - DAY, p.total, p.count])).toEqual([
      [0, 21, 3],
      [HOUR_MS, 22, 3],
      [2 * HOUR_MS, 23, 3],
    ]);
    expect(r.state.pending.map((p) => p.length)).toEqual([2, 0, 2]);
    expect(r.state.publishedUntilMs).toBe(DAY + 3 * HOUR_MS);
  });

  it("marks a merged hour partial when any lane's share was, and keeps min and max over lanes", () => {
    const merged = mergeHours([
      [{ ...hourOf(0, 10, 2), min: 4, max: 6 }],
      [{ ...hourOf(0, 30, 3), min: 9, max: 11, partial: 'expired' }],
    ]);
    expect(merged).toEqual([{ ...hourOf(0, 40, 5), min: 4, max: 11, partial: 'expired' }]);
  });

  it('puts the frontier of a lane with no open hour at its position, or at its published hours', () => {
    const at = { ...initialState(KEY), lastId: `${DAY + 90 * 60_000}-4` };
    expect(laneFrontier(at)).toBe(DAY + HOUR_MS);
    expect(laneFrontier({ ...at, publishedUntilMs: DAY + 2 * HOUR_MS })).toBe(DAY + 2 * HOUR_MS);
    expect(laneFrontier(initialState(KEY))).toBe(DAY);
  });
});
