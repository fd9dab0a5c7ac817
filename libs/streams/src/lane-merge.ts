import { positionMs, type AggregatorState } from './aggregation-step';
import type { HourlyAverage } from './hourly-window';
import { startOfHour } from './time';

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
 * (the first lane's reason). Pure: `closed` is per lane, each oldest first.
 */
export function mergeHours(closed: readonly (readonly HourlyAverage[])[]): HourlyAverage[] {
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
  return [...byHour.values()].sort((a, b) => a.hourStartMs - b.hourStartMs);
}

/** The hours every lane has settled, taken out of `pending` and merged (see mergeHours). */
export function publishSettled(state: LanesState): {
  state: LanesState;
  published: HourlyAverage[];
} {
  const until = Math.min(...state.lanes.map(laneFrontier));
  const settled = state.pending.map((hours) => hours.filter((h) => h.hourStartMs < until));
  const published = mergeHours(settled);
  if (published.length === 0) return { state, published };
  return {
    state: {
      ...state,
      pending: state.pending.map((hours) => hours.filter((h) => h.hourStartMs >= until)),
      publishedUntilMs: Math.max(
        state.publishedUntilMs,
        published[published.length - 1].hourStartMs + 3_600_000,
      ),
    },
    published,
  };
}

/**
 * Lane `lane` took a step (`to`, closing `closed`): its closed hours join its pending list and
 * whatever every lane has now settled is published.
 */
export function afterLaneStep(
  state: LanesState,
  lane: number,
  to: AggregatorState,
  closed: readonly HourlyAverage[],
): { state: LanesState; published: HourlyAverage[] } {
  const lanes = state.lanes.map((s, i) => (i === lane ? to : s));
  const pending = state.pending.map((hours, i) => (i === lane ? [...hours, ...closed] : hours));
  return publishSettled({ ...state, lanes, pending });
}
