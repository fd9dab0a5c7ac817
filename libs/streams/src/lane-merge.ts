import { positionMs, type AggregatorState, type LostRange } from './aggregation-step';
import type { HourlyAverage } from './hourly-window';
import { HOUR_MS, startOfHour } from './time';

/**
 * Many lanes, one average an hour. Each lane is aggregated by the one-partition step machine
 * (`afterFold`, `whenDrained`) against its own watermark, so its rules for late, early and lost
 * readings hold per lane; the hours a lane closes wait in its `pending` list until every lane has
 * settled them, and are then merged into one average per hour. An hour is published once the
 * minimum over the lanes' frontiers has passed it — the rule Flink applies to the partitions of a
 * source: a lane that stalls holds every later hour back, and nothing is guessed.
 */

/** The aggregator's state over S lanes (the lanes layout; see lanes.ts). */
export interface LanesState {
  /** Each lane's cursor and open hour, lane by lane (index = lane number). */
  lanes: AggregatorState[];
  /** Each lane's closed hours not yet published, oldest first. */
  pending: HourlyAverage[][];
  /** Each lane's stretches of lost readings not yet past (see LostRange), oldest first. */
  lost: LostRange[][];
  /** Unix ms: every hour before it is published (or had no reading in any lane). */
  publishedUntilMs: number;
}

/**
 * Unix ms before which the lane will close no more hours: its open hour's start, or, with no hour
 * open, the hour of its position (a reading there could still open it) or the end of the hours it
 * has published, whichever is later. Readings before a lane's published hours are `late` there.
 */
export function laneFrontier(state: AggregatorState): number {
  if (state.window.count > 0) return state.window.hourStartMs;
  return Math.max(state.publishedUntilMs, startOfHour(positionMs(state)));
}

/**
 * Hours closed by every lane merged into one average each, in hour order: totals summed lane by
 * lane (lane 0 first), counts summed, min and max over the lanes; partial when any lane's share was
 * (the first lane's reason), or when a lane has no share in an hour whose readings it lost (`lost`,
 * per lane: its partition expired, was evicted or skipped unread) — never a complete-looking hour
 * with a lane missing. Pure: `closed` is per lane, each oldest first.
 */
export function mergeHours(
  closed: readonly (readonly HourlyAverage[])[],
  lost: readonly (readonly LostRange[])[] = [],
): HourlyAverage[] {
  const byHour = new Map<number, HourlyAverage>();
  closed.forEach((hours) => {
    for (const hour of hours) {
      const merged = byHour.get(hour.hourStartMs);
      if (!merged) {
        byHour.set(hour.hourStartMs, { ...hour });
        continue;
      }
      merged.total += hour.total;
      merged.count += hour.count;
      merged.min = Math.min(merged.min, hour.min);
      merged.max = Math.max(merged.max, hour.max);
      if (hour.partial && !merged.partial) merged.partial = hour.partial;
    }
  });
  const merged = [...byHour.values()].sort((a, b) => a.hourStartMs - b.hourStartMs);
  for (const hour of merged) {
    if (hour.partial) continue;
    const end = hour.hourStartMs + HOUR_MS;
    lost.forEach((ranges, lane) => {
      if (hour.partial || closed[lane]?.some((h) => h.hourStartMs === hour.hourStartMs)) return;
      const gone = ranges.find((r) => r.fromMs < end && r.untilMs > hour.hourStartMs);
      if (gone) hour.partial = gone.reason;
    });
  }
  return merged;
}

/** The hours every lane has settled, taken out of `pending` and merged (see mergeHours). */
export function publishSettled(state: LanesState): {
  state: LanesState;
  published: HourlyAverage[];
} {
  const until = Math.min(...state.lanes.map(laneFrontier));
  const settled = state.pending.map((hours) => hours.filter((h) => h.hourStartMs < until));
  const published = mergeHours(settled, state.lost);
  // A lost stretch is kept until every hour it touches is settled.
  const lost = state.lost.map((ranges) => ranges.filter((r) => r.untilMs > until));
  const unchanged =
    published.length === 0 && lost.every((r, i) => r.length === state.lost[i].length);
  if (unchanged) return { state, published };
  return {
    state: {
      ...state,
      pending: state.pending.map((hours) => hours.filter((h) => h.hourStartMs >= until)),
      lost,
      publishedUntilMs:
        published.length === 0
          ? state.publishedUntilMs
          : Math.max(state.publishedUntilMs, published[published.length - 1].hourStartMs + HOUR_MS),
    },
    published,
  };
}

/**
 * Lane `lane` took a step (`to`, closing `closed`, finding the readings of `lost` gone): its closed
 * hours join its pending list, its lost stretches its list, and whatever every lane has now settled
 * is published.
 */
export function afterLaneStep(
  state: LanesState,
  lane: number,
  to: AggregatorState,
  closed: readonly HourlyAverage[],
  lost: readonly LostRange[] = [],
): { state: LanesState; published: HourlyAverage[] } {
  const lanes = state.lanes.map((s, i) => (i === lane ? to : s));
  const pending = state.pending.map((hours, i) => (i === lane ? [...hours, ...closed] : hours));
  const losses = state.lost.map((ranges, i) => (i === lane ? [...ranges, ...lost] : ranges));
  return publishSettled({ ...state, lanes, pending, lost: losses });
}
