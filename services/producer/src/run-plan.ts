import {
  DAY_MS,
  PARTITION_RANGE,
  SimulatedClock,
  startOfDay,
  type ProducerStateHash,
} from '@temps/streams';

/** The fixed parameters of one producer run (owned by the producer_state module). */
export type RunParams = ProducerStateHash.RunParams;

export type NextStep =
  | { kind: 'write'; firstMs: number; ticks: number }
  | { kind: 'wait'; untilRealMs: number }
  | { kind: 'done' };

export function clockOf(run: RunParams): SimulatedClock {
  return new SimulatedClock(run.startMs, run.realStartMs, run.rate);
}

/** The timestamp of the first reading at or after `ms`. */
export function alignToTick(run: RunParams, ms: number): number {
  const ticks = Math.ceil((ms - run.startMs) / run.intervalMs);
  return run.startMs + Math.max(0, ticks) * run.intervalMs;
}

/**
 * What to write next, given that every reading before `watermarkMs` is written: at most
 * `maxEntries` readings (whole ticks of all devices), never across a day boundary (one batch,
 * one partition), never past the run's end, and in a paced run never ahead of the simulated clock.
 */
export function nextStep(
  run: RunParams,
  watermarkMs: number,
  nowRealMs: number,
  maxEntries: number,
): NextStep {
  const firstMs = alignToTick(run, watermarkMs);
  // A run without an end still ends with temps:99991231, the last partition there can be.
  const endMs = Math.min(run.endMs ?? Infinity, PARTITION_RANGE.endMs);
  if (firstMs >= endMs) return { kind: 'done' };

  const clock = clockOf(run);
  let limitMs = Math.min(startOfDay(firstMs) + DAY_MS, endMs);
  if (run.paced) {
    const dueMs = clock.toSim(nowRealMs);
    if (firstMs > dueMs) return { kind: 'wait', untilRealMs: Math.ceil(clock.toReal(firstMs)) };
    limitMs = Math.min(limitMs, Math.floor(dueMs) + 1);
  }
  const ticksToLimit = Math.ceil((limitMs - firstMs) / run.intervalMs);
  const ticksPerBatch = Math.max(1, Math.floor(maxEntries / run.devices));
  return { kind: 'write', firstMs, ticks: Math.min(ticksToLimit, ticksPerBatch) };
}

/** The watermark after writing `ticks` ticks from `firstMs`: the next reading's time, capped at the end. */
export function watermarkAfter(run: RunParams, firstMs: number, ticks: number): number {
  const next = firstMs + ticks * run.intervalMs;
  return run.endMs === null ? next : Math.min(next, run.endMs);
}
