import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import {
  StaleStateError,
  StateGoneError,
  type StreamCursor,
  type StreamCursorSource,
} from '@temps/redis';
import { ConsoleOutput, ExitRequest, SingleWriter } from '@temps/runtime';
import {
  AGGREGATOR_STATE_KEY,
  EMPTY_WINDOW,
  afterFold,
  initialState,
  leaveMark,
  type AggregatorState,
  compareEntryIds,
  lagSeconds,
  nextPartitionKey,
  watermarkPassed,
  whenDrained,
  type FoldStep,
  type HourlyAverage,
  type ReadingRejectReason,
  type SkipReason,
} from '@temps/streams';
import { AGGREGATOR_CLOCK, AGGREGATOR_CONFIG } from './aggregator.constants';
import type { AggregatorConfig } from './aggregator-config';
import { AggregatorMetrics } from './aggregator.metrics';
import { AggregatorRepository, FOLD_BOUND } from './aggregator.repository';
import { FoldReader } from './fold-reader';

const REJECTION_LOG_EVERY_MS = 10_000;

/** How often an idle aggregator looks for entries written into partitions it has left. */
const LEFT_CHECK_EVERY_MS = 2_000;

/** How long one turn may fold a backlog before handing back to the read loop. */
export const TURN_BUDGET_MS = 1_000;

/** The saved cursor is not the one this process holds (seen on an idle turn). */
class StateChangedError extends Error {
  override name = 'StateChangedError';
}

/** The saved state disappeared and there is no rule to begin again by: ends the aggregator. */
export class StateLostError extends Error {
  override name = 'StateLostError';
  readonly fatal = true;
}

/**
 * The aggregating consumer, a thin shell over the step machine (`afterFold`, `whenDrained` in
 * @temps/streams): it folds its partition inside Redis, lets the step machine decide, and commits
 * each step (averages + cursor + running totals) atomically. It owns its position: the transport
 * only wakes it (a read of one entry), and a step that failed to commit is decided again.
 */
@Injectable()
export class AggregatorService implements StreamCursorSource {
  private readonly logger = new Logger('Aggregator');
  private state: AggregatorState | null = null;
  private waiting = false;
  /** The last turn stopped at readings ahead of the watermark: the next one is an idle turn. */
  private holding = false;
  /** The next partition already has entries (waiting on the watermark): do not watch it. */
  private nextHasEntries = false;
  private readonly pendingRejections = new Map<ReadingRejectReason, number>();
  private lastLeftCheck = 0;
  /** Who saved the state this process holds (itself once it has committed). */
  private writer: string | null = null;
  /** Stands by while another aggregator writes the state, and decides when to take over. */
  private singleWriter: SingleWriter<AggregatorState>;
  private lastRejectionLog = 0;

  constructor(
    @Inject(AGGREGATOR_CONFIG) private readonly config: AggregatorConfig,
    private readonly repository: AggregatorRepository,
    private readonly metrics: AggregatorMetrics,
    private readonly console: ConsoleOutput,
    @Optional() @Inject(AGGREGATOR_CLOCK) private readonly now: () => number = Date.now,
  ) {
    this.singleWriter = new SingleWriter({ now });
  }

  /** Resets to the partition given on the command line, or resumes the saved state. */
  async start(): Promise<void> {
    const { partition, fromOldest } = this.config;
    if (partition) {
      this.state = initialState(partition);
      await this.repository.reset(this.state);
      this.writer = this.repository.instanceId;
    } else {
      const loaded = await this.repository.loadWithWriter();
      this.state = loaded?.state ?? null;
      this.writer = loaded?.writer ?? null;
      if (!this.state && fromOldest) this.state = await this.startFromOldest();
      if (!this.state) {
        throw new ExitRequest([
          'No stream key and last message ID found in Redis.',
          'Start the consumer with stream key parameter.',
        ]);
      }
    }
    this.announce(this.state);
  }

  private announce(state: AggregatorState): void {
    this.print(
      `Starting aggregating consumer in stream ${state.streamKey} at message ${state.lastId}.`,
    );
    this.metrics.partition.reset();
    this.metrics.partition.set({ stream: state.streamKey }, 1);
  }

  async cursor(): Promise<StreamCursor> {
    // In standby, or held at readings ahead of the watermark: an idle turn.
    if (this.singleWriter.standingBy || this.holding) return [];
    const { streamKey, lastId } = this.current();
    // Watch the next day too (its first entry may mean this one is complete) so either wakes the
    // blocking read, unless it has entries already. A key of another type under a partition's
    // name would fail the whole XREAD: leave it out.
    const next = nextPartitionKey(streamKey);
    const cursor: StreamCursor =
      next && !this.nextHasEntries
        ? [
            [streamKey, lastId],
            [next, '0'],
          ]
        : [[streamKey, lastId]];
    const readable = await this.repository.readable(cursor.map(([key]) => key));
    return cursor.filter((_, i) => readable[i]);
  }

  /** A read woke the aggregator (or its blocking read timed out): one turn. */
  async handle(): Promise<void> {
    if (this.singleWriter.standingBy) return this.watchOther();
    try {
      await this.turn();
    } catch (error) {
      const refused =
        error instanceof StateChangedError ||
        error instanceof StaleStateError ||
        error instanceof StateGoneError;
      if (!refused) throw error;
      await this.afterStateChanged();
    }
  }

  /**
   * The saved state is not the one this process last committed. Redis holds the truth: never
   * write a position from memory over it. Three things can have happened, told apart by what
   * Redis now holds: this very step was applied just before a connection dropped and ioredis sent
   * it again (this process wrote the saved state: go on quietly from it); the state is gone; or
   * another aggregator (or a start over) wrote it.
   */
  private async afterStateChanged(): Promise<void> {
    const loaded = await this.repository.loadWithWriter();
    if (loaded === null) return this.stateGone();
    const saved = loaded.state;
    if (loaded.mine) {
      this.state = saved;
      this.writer = loaded.writer;
      return;
    }
    if (this.singleWriter.onRefused(saved)) {
      this.logger.warn(
        `Another aggregator is writing ${AGGREGATOR_STATE_KEY} (now at ${saved.streamKey}, message ${saved.lastId}); this one waits until it has been quiet for ${SingleWriter.QUIET_MS / 1000} s.`,
      );
    }
  }

  /** Standing by: take over once the state has not changed for SingleWriter.QUIET_MS. */
  private async watchOther(): Promise<void> {
    const saved = await this.repository.load();
    if (saved === null) return this.stateGone();
    if (this.singleWriter.poll(saved) === 'wait') return;
    this.state = saved;
    this.writer = (await this.repository.loadWithWriter())?.writer ?? null;
    this.logger.warn(
      `${AGGREGATOR_STATE_KEY} has not changed for ${SingleWriter.QUIET_MS / 1000} s; continuing from ${saved.streamKey}, message ${saved.lastId}.`,
    );
  }

  /** The saved state disappeared under this process: begin again as a first start would. */
  private async stateGone(): Promise<void> {
    this.singleWriter = new SingleWriter({ now: this.now }); // no longer standing by
    if (!this.config.fromOldest) {
      throw new StateLostError(
        `${AGGREGATOR_STATE_KEY} disappeared from Redis while the aggregator ran; start it again with a partition name (or --from-oldest) to begin again.`,
      );
    }
    this.logger.warn(
      `${AGGREGATOR_STATE_KEY} disappeared from Redis while the aggregator ran; starting again from the oldest partition.`,
    );
    this.state = null;
    this.waiting = false;
    const state = await this.startFromOldest();
    if (!state) return this.stateGone();
    this.state = state;
    this.announce(state);
  }

  /**
   * One turn: fold the current partition in order while it has a backlog (the reader keeps the next
   * folds queued in Redis while each step commits), for at most TURN_BUDGET_MS so health and stop
   * requests stay responsive; once drained, close hours and change partitions as `whenDrained`
   * decides.
   */
  private async turn(): Promise<void> {
    const deadline = this.now() + TURN_BUDGET_MS;
    let state = this.current();
    const reader = new FoldReader((from, range) => this.repository.fold(from, range), state);
    let last: FoldStep | null = null;
    let committed = false;
    let watermarkMs: number | null = null;
    try {
      for (let read = await reader.next(); read; read = await reader.next()) {
        last = afterFold(state, read.fold, read.watermarkMs, read.fresh);
        watermarkMs = read.watermarkMs;
        this.holding = last.outcome === 'holding';
        this.report(last, state.streamKey);
        if (last.commit) {
          const commit = await this.repository.commit(state, last.to, last.closed);
          this.committed(last.to, last.closed, commit.added, commit.watermarkMs);
          state = last.to;
          committed = true;
          watermarkMs = commit.watermarkMs;
        }
        if (last.outcome === 'folding' && this.now() >= deadline) return; // on after the next read
      }
    } finally {
      await reader.close();
    }
    // Drained: the idle path, or at once when the watermark may close the hour or the day.
    if (last?.outcome !== 'folding' && (!committed || watermarkPassed(state, watermarkMs))) {
      await this.drained(state);
    }
  }

  /** Counts and logs what a fold left out. Early entries are counted once (`earlyThrough`). */
  private report(step: FoldStep, stream: string): void {
    if (step.accepted > 0) this.metrics.readingsAggregated.inc(step.accepted);
    const rejected = new Map(Object.entries(step.rejected) as [ReadingRejectReason, number][]);
    rejected.forEach((count, reason) => this.metrics.readingsRejected.inc({ reason }, count));
    this.reportRejections(stream, rejected);
    if (step.early) this.reportEarly(stream, step.early.firstId, step.early.count);
  }

  private reportEarly(stream: string, firstId: string, count: number): void {
    this.metrics.readingsRejected.inc({ reason: 'early' }, count);
    this.logger.warn(
      `${stream} holds ${count} reading${count === 1 ? '' : 's'} from ${firstId} on, ahead of the producer's watermark: left unread until the watermark reaches them.`,
    );
  }

  /** DRAINED: close the open hour by the watermark, move to the next day, or wait. */
  private async drained(from: AggregatorState): Promise<void> {
    // The partitions first, then the watermark with the partition's end in one snapshot: every
    // reading the watermark or a later partition vouches for is in Redis by then. Unless all of
    // them have been read, closing an hour or leaving the day now would lose the rest: read on.
    const existing = await this.repository.partitions();
    const { watermarkMs, exists, lastId, saved } = await this.repository.progress(from.streamKey);
    // Idle turns check the saved cursor too, so a state deleted or rewritten is noticed at once.
    if (
      saved.streamKey !== from.streamKey ||
      saved.lastId !== from.lastId ||
      saved.writer !== this.writer
    ) {
      throw new StateChangedError();
    }
    if (lastId !== null && compareEntryIds(lastId, from.lastId) > 0) return;
    const step = whenDrained(from, { watermarkMs, currentExists: exists, existing });
    const next = nextPartitionKey(from.streamKey);
    this.nextHasEntries = step.kind === 'wait' && next !== null && existing.includes(next);
    if (step.kind !== 'wait') {
      const { added, watermarkMs: now } = await this.repository.commit(from, step.to, step.closed);
      this.committed(step.to, step.closed, added, now);
      if (step.kind === 'move') {
        this.reportSkipped(step.skipped);
        this.changedPartition(step.to.streamKey);
      }
      return;
    }
    if (watermarkMs !== null) this.metrics.lag.set(lagSeconds(from, watermarkMs));
    if (this.nextHasEntries && (await this.countEarlyIn(next!, from))) return;
    if (await this.countLateInLeft(from, existing)) return;
    this.reportRejections(from.streamKey, new Map()); // anything held back since the last summary
    if (!this.waiting) {
      this.waiting = true;
      this.print(`Waiting for new messages in stream ${from.streamKey}, or new stream partition.`);
    }
  }

  /**
   * The next day has entries while this one is not finished: all of them are ahead of the
   * watermark (a clock running ahead). Count the new ones now, once, rather than when the
   * aggregator gets there. Returns whether it committed.
   */
  private async countEarlyIn(next: string, from: AggregatorState): Promise<boolean> {
    const ahead = { ...from, streamKey: next, lastId: '0', window: EMPTY_WINDOW };
    const { fold } = await this.repository.fold(ahead, { start: { afterId: '0' }, untilMs: null });
    const early = fold.early;
    if (fold.consumed > 0 || !early || early.uncounted === 0) return false;
    this.reportEarly(next, early.firstId, early.uncounted);
    await this.commit(from, { ...from, earlyThrough: early.through });
    return true;
  }

  /**
   * Entries written into partitions already left can no longer count: when idle (at most every
   * LEFT_CHECK_EVERY_MS) they are counted as `late`, logged, and their partitions' marks moved past
   * them in a commit, so each is counted once. Returns whether it committed.
   */
  private async countLateInLeft(
    from: AggregatorState,
    existing: readonly string[],
  ): Promise<boolean> {
    if (this.now() - this.lastLeftCheck < LEFT_CHECK_EVERY_MS) return false;
    this.lastLeftCheck = this.now();
    const there = new Set(existing);
    const watched = Object.entries(from.left ?? {}).filter(([key]) => there.has(key));
    if (watched.length === 0) return false;
    const newest = await this.repository.newestIds(watched.map(([key]) => key));
    const marks: Record<string, string> = {};
    const late = new Map<string, number>();
    for (const [i, [key, mark]] of watched.entries()) {
      const top = newest[i];
      if (top === null || (mark !== '0' && compareEntryIds(top, mark) <= 0)) continue;
      const ids = await this.repository.idsAfter(key, mark, FOLD_BOUND);
      if (ids.length === 0) continue;
      marks[key] = ids[ids.length - 1];
      late.set(key, ids.length);
    }
    if (late.size === 0) return false;
    await this.commit(from, { ...from, left: leaveMark(from.left, marks) });
    const total = [...late.values()].reduce((sum, count) => sum + count, 0);
    this.metrics.readingsRejected.inc({ reason: 'late' }, total);
    const where = [...late].map(([key, count]) => `${key} (${count})`).join(', ');
    this.logger.warn(
      `Left ${total} late reading${total === 1 ? '' : 's'} out of the averages, written into partitions already aggregated: ${where}.`,
    );
    this.lastLeftCheck = 0; // more may be waiting
    return true;
  }

  /** Takes a committed step as the state this process holds. */
  private committed(
    to: AggregatorState,
    closed: readonly HourlyAverage[],
    added: number,
    watermarkMs: number | null,
  ): void {
    if (to.lastId !== this.state?.lastId || to.streamKey !== this.state?.streamKey) {
      this.waiting = false;
    }
    this.state = to;
    this.writer = this.repository.instanceId;
    this.metrics.averagesWritten.inc(added);
    const latest = closed[closed.length - 1];
    if (latest) this.metrics.latestAverage.set(latest.total / latest.count);
    if (watermarkMs !== null) this.metrics.lag.set(lagSeconds(to, watermarkMs));
  }

  /** Commits a step outside a fold (late entries in partitions left). */
  private async commit(from: AggregatorState, to: AggregatorState): Promise<void> {
    const { added, watermarkMs } = await this.repository.commit(from, to, []);
    this.committed(to, [], added, watermarkMs);
  }

  private reportSkipped(skipped: readonly { key: string; reason: SkipReason }[]): void {
    for (const { key, reason } of skipped) {
      this.metrics.partitionsSkipped.inc({ reason });
      this.logger.warn(
        reason === 'expired'
          ? `Partition ${key} expired before it was fully read; continuing with the next one.`
          : `Skipping ${key}: no readings that day.`,
      );
    }
  }

  private changedPartition(next: string): void {
    this.print(`Changing partition to consume stream: ${next}`);
    this.waiting = false;
    this.metrics.partition.reset();
    this.metrics.partition.set({ stream: next }, 1);
  }

  private reportRejections(stream: string, rejected: Map<ReadingRejectReason, number>): void {
    rejected.forEach((count, reason) =>
      this.pendingRejections.set(reason, (this.pendingRejections.get(reason) ?? 0) + count),
    );
    if (
      this.pendingRejections.size === 0 ||
      this.now() - this.lastRejectionLog < REJECTION_LOG_EVERY_MS
    )
      return;
    const summary = [...this.pendingRejections]
      .map(([reason, count]) => `${reason}: ${count}`)
      .join(', ');
    this.logger.warn(
      `Left unusable entries out of the averages (${summary}), latest in ${stream}.`,
    );
    this.pendingRejections.clear();
    this.lastRejectionLog = this.now();
  }

  private current(): AggregatorState {
    if (!this.state) throw new Error('The aggregator has not started.');
    return this.state;
  }

  /** A container's first start: begin at the oldest partition, waiting for the producer if need be. */
  private async startFromOldest(): Promise<AggregatorState | null> {
    for (let announced = false; ; announced = true) {
      const [oldest] = await this.repository.partitions();
      if (oldest) {
        const state = initialState(oldest);
        if (await this.repository.initialize(state)) {
          this.writer = this.repository.instanceId;
          return state;
        }
        const loaded = await this.repository.loadWithWriter();
        this.writer = loaded?.writer ?? null;
        return loaded?.state ?? null;
      }
      if (!announced) this.print('Waiting for the first stream partition.');
      await sleep(1_000);
    }
  }

  private print(line: string): void {
    this.console.line(line);
  }
}
