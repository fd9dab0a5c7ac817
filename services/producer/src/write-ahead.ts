import type { ReadingGenerator } from '@temps/streams';
import type { Batch } from './producer.repository';
import { clockOf, nextStep, watermarkAfter, type RunParams } from './run-plan';

/** Readings per atomic batch: large enough to amortise the round trip, small enough not to stall Redis. */
export const MAX_BATCH_ENTRIES = 7_200;

/** What `writeAhead` writes, and how it tells its runner. */
export interface WriteAheadPlan {
  /** The run's plan: interval, end, pacing, and the devices written (a lane's, with lanes). */
  plan: RunParams;
  /** Simulated Unix ms before which every reading is written already. */
  fromMs: number;
  /** The generator positioned at `fromMs`; advanced batch by batch. */
  generator: ReadingGenerator;
  /** Real time now, ms since epoch (the runner's clock). */
  now(): number;
  /** The partition key of the batch starting at `firstMs`; called once a batch, in order. */
  partitionFor(firstMs: number): string;
  /** Sends one batch; resolves once Redis applied it, rejects with its typed refusal. */
  send(batch: Batch): Promise<unknown>;
  /** A batch was applied: `readings` more, every reading before `watermarkMs` written. */
  applied(readings: number, watermarkMs: number): void;
  /**
   * Ahead of the paced clock: wait (at most `dueMs`, the real ms until the next reading is due).
   * `caughtUp`: every batch sent is applied.
   */
  idle(dueMs: number, caughtUp: boolean): Promise<void>;
  /** Whether to stop before the next batch. */
  stopped(): boolean;
}

/**
 * Writes a plan from `fromMs` on, one batch ahead of the applied one: the next batch is built and
 * sent while Redis executes the current. The batch script's position guard keeps them in order; a
 * failed batch makes the one behind it fail too, without writing. Resolves with the planned
 * watermark (simulated Unix ms) once the plan is done or `stopped()`, every batch sent applied;
 * rejects with the first failed batch's error.
 */
export async function writeAhead(w: WriteAheadPlan): Promise<number> {
  const clock = clockOf(w.plan);
  let plannedMs = w.fromMs;
  let appliedMs = w.fromMs;
  let applied: Promise<void> = Promise.resolve();
  const apply = async (sent: Promise<unknown>, readings: number, watermarkMs: number) => {
    await sent;
    appliedMs = watermarkMs;
    w.applied(readings, watermarkMs);
  };

  while (!w.stopped()) {
    const step = nextStep(w.plan, plannedMs, w.now(), MAX_BATCH_ENTRIES);
    if (step.kind === 'done') break;
    if (step.kind === 'wait') {
      await w.idle(step.untilRealMs - w.now(), plannedMs === appliedMs);
      continue;
    }
    const partition = w.partitionFor(step.firstMs);
    const temps = w.generator.next(step.ticks);
    const lastMs = step.firstMs + (step.ticks - 1) * w.plan.intervalMs;
    plannedMs = watermarkAfter(w.plan, step.firstMs, step.ticks);
    const sent = w.send({
      partition,
      firstMs: step.firstMs,
      temps,
      expireAtMs: clock.expiryFor(lastMs),
      watermarkMs: plannedMs,
      generator: w.generator.state(),
    });
    // If the batch ahead fails, this one is refused too and never awaited: not an unhandled rejection.
    sent.catch(() => undefined);
    await applied;
    applied = apply(sent, temps.length, plannedMs);
    applied.catch(() => undefined); // surfaced by the next await, not as an unhandled rejection
  }
  await applied;
  return plannedMs;
}
