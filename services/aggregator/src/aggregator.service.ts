import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  StaleStateError,
  StateGoneError,
  type StreamCursor,
  type StreamCursorSource,
} from '@temps/redis';
import {
  compareEntryIds,
  nextPartitionKey,
  watermarkPassed,
  whenDrained,
  type AggregatorState,
  type FoldStep,
  type HourlyAverage,
} from '@temps/streams';
import { AggregatorPosition } from './aggregator-position';
import { AGGREGATOR_CLOCK } from './aggregator.constants';
import { AggregatorReporter } from './aggregator.reporter';
import { AggregatorRepository, FOLD_BOUND } from './aggregator.repository';
import { LEFT_CHECK_EVERY_MS, earlyInNext, foldBacklog, lateInLeft } from './partition-turn';

/** How long one turn may fold a backlog before handing back to the read loop (ms). */
export const TURN_BUDGET_MS = 1_000;

/** The saved cursor is not the one this process holds (seen on an idle turn). */
class StateChangedError extends Error {
  override name = 'StateChangedError';
}

/**
 * The aggregating consumer: a thin shell over the step machine (`afterFold`, `whenDrained` in
 * @temps/streams). It reads (folds inside Redis, through the repository), lets the step machine
 * decide, and commits each step (averages + cursor + running totals) atomically. It owns its
 * position (AggregatorPosition): the transport only wakes it, and a step that failed to commit is
 * decided again from what Redis holds.
 */
@Injectable()
export class AggregatorService implements StreamCursorSource {
  /** The last turn stopped at readings ahead of the watermark: the next one is an idle turn. */
  private holding = false;
  /** The next partition already has entries (waiting on the watermark): do not watch it. */
  private nextHasEntries = false;
  private lastLeftCheck = 0;

  constructor(
    private readonly position: AggregatorPosition,
    private readonly repository: AggregatorRepository,
    private readonly report: AggregatorReporter,
    @Optional() @Inject(AGGREGATOR_CLOCK) private readonly now: () => number = Date.now,
  ) {}

  /** Resets to the partition given on the command line, or resumes the saved state. */
  start(): Promise<void> {
    return this.position.start();
  }

  async cursor(): Promise<StreamCursor> {
    // Standing by, or held at readings ahead of the watermark: an idle turn.
    if (this.position.standingBy || this.holding) return [];
    const { streamKey, lastId } = this.position.current();
    // Watch the next day too (its first entry may mean this one is complete), unless it has
    // entries already. A key of another type would fail the whole XREAD: leave it out.
    const next = nextPartitionKey(streamKey);
    const keys = next && !this.nextHasEntries ? [streamKey, next] : [streamKey];
    const readable = await this.repository.readable(keys);
    const cursor: StreamCursor = keys.map((key, i) => [key, i === 0 ? lastId : '0']);
    return cursor.filter((_, i) => readable[i]);
  }

  /** A read woke the aggregator (or its blocking read timed out): one turn. */
  async handle(): Promise<void> {
    if (this.position.standingBy) return this.position.watchOther();
    try {
      await this.turn();
    } catch (error) {
      const refused =
        error instanceof StateChangedError ||
        error instanceof StaleStateError ||
        error instanceof StateGoneError;
      if (!refused) throw error;
      await this.position.refused();
    }
  }

  /**
   * One turn: fold the current partition in order while it has a backlog, for at most
   * TURN_BUDGET_MS so health and stop requests stay responsive; then, drained, as `whenDrained`
   * decides. Redis is never left waiting for the service: the reader keeps the next folds queued,
   * and each step's commit is sent without waiting for the one before (on one connection they run
   * in order, and a step whose predecessor was refused is refused by the same guard).
   */
  private async turn(): Promise<void> {
    const from = this.position.current();
    let [state, writer] = [from, this.position.writer];
    const { last, watermarkMs, commits } = await foldBacklog({
      from,
      source: (at, range) => this.repository.fold(at, range),
      deadline: this.now() + TURN_BUDGET_MS,
      now: this.now,
      onStep: (step) => (this.holding = step.outcome === 'holding'),
      commit: (step) => {
        const done = this.commitInOrder(state, step, writer);
        [state, writer] = [step.to, this.repository.instanceId];
        return done;
      },
    });
    // Drained: the idle path, or at once when the watermark may close the hour or the day.
    const folding = last?.outcome === 'folding';
    if (!folding && (commits === 0 || watermarkPassed(state, watermarkMs))) {
      await this.drained(state);
    }
  }

  /**
   * Sends a fold's step to be committed, expected over the state `writer` saved; once committed it
   * is the state this process holds, and its readings are counted (only then: a refused step is
   * decided again, and counted then).
   */
  private commitInOrder(
    from: AggregatorState,
    step: FoldStep,
    writer: string | null,
  ): Promise<void> {
    const { to, closed } = step;
    const done = this.repository.commit(from, to, closed, writer).then(({ added, watermarkMs }) => {
      this.position.committed(to);
      this.report.committed(from, to, closed, added, watermarkMs);
      this.report.folded(step, from.streamKey);
    });
    return done;
  }

  /** DRAINED: close the open hour by the watermark, move to the next day, or wait. */
  private async drained(from: AggregatorState): Promise<void> {
    // The watermark first, then the partitions, then the partition's end: every partition and
    // reading the watermark or a later partition vouches for is in Redis by the time it is looked
    // for (a day written between a look at the partitions and the watermark would pass as absent).
    // Unless all of them have been read, closing an hour or leaving the day now would lose the
    // rest: read on.
    const watermarkMs = await this.repository.watermark();
    const existing = await this.repository.partitions();
    const { exists, lastId, saved } = await this.repository.progress(from.streamKey);
    // Idle turns check the saved cursor too, so a state deleted or rewritten is noticed at once.
    if (!this.position.holds(saved)) throw new StateChangedError();
    if (lastId !== null && compareEntryIds(lastId, from.lastId) > 0) return;
    const step = whenDrained(from, { watermarkMs, currentExists: exists, existing });
    const next = nextPartitionKey(from.streamKey);
    this.nextHasEntries = step.kind === 'wait' && next !== null && existing.includes(next);
    if (step.kind !== 'wait') {
      await this.commit(from, step.to, step.closed);
      if (step.kind === 'move') this.report.moved(step.to.streamKey, step.skipped);
      return;
    }
    if (watermarkMs !== null) this.report.lag(from, watermarkMs);
    if (this.nextHasEntries && (await this.countEarlyIn(next!, from))) return;
    if (await this.countLateInLeft(from, existing)) return;
    this.report.idle(from.streamKey);
  }

  /**
   * The next day has entries while this one is not finished: all of them are ahead of the
   * watermark (a clock running ahead). Count the new ones now, once. Returns whether it committed.
   */
  private async countEarlyIn(next: string, from: AggregatorState): Promise<boolean> {
    const early = await earlyInNext(from, next, (ahead) =>
      this.repository.fold(ahead, { start: { afterId: '0' }, untilMs: null }),
    );
    if (!early) return false;
    await this.commit(from, early.to, []);
    this.report.early(next, early.firstId, early.count);
    return true;
  }

  /**
   * Entries written into partitions already left can no longer count: when idle (at most every
   * LEFT_CHECK_EVERY_MS) they are counted as `late`, logged, and their partitions' marks moved past
   * them in a commit, so each is counted once. Returns whether it committed.
   */
  private async countLateInLeft(from: AggregatorState, existing: string[]): Promise<boolean> {
    if (this.now() - this.lastLeftCheck < LEFT_CHECK_EVERY_MS) return false;
    this.lastLeftCheck = this.now();
    const found = await lateInLeft(from, existing, this.repository, FOLD_BOUND);
    if (!found) return false;
    await this.commit(from, found.to, []);
    this.report.lateInLeft(found.late);
    this.lastLeftCheck = 0; // more may be waiting
    return true;
  }

  /** Commits a step and takes it as the state this process holds; returns the watermark read. */
  private async commit(
    from: AggregatorState,
    to: AggregatorState,
    closed: readonly HourlyAverage[],
  ): Promise<number | null> {
    const { added, watermarkMs } = await this.repository.commit(
      from,
      to,
      closed,
      this.position.writer,
    );
    this.position.committed(to);
    this.report.committed(from, to, closed, added, watermarkMs);
    return watermarkMs;
  }
}
