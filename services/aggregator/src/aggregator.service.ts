import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  StaleStateError,
  type StreamCursor,
  type StreamCursorSource,
  type StreamEntry,
  type StreamReadEvent,
} from '@temps/redis';
import { ConsoleOutput, ExitRequest, Standby } from '@temps/runtime';
import {
  AGGREGATOR_STATE_KEY,
  DAY_MS,
  HOUR_MS,
  advanceWhenDrained,
  closeThrough,
  compareEntryIds,
  decodeTemp,
  entryIdMs,
  foldEntries,
  nextPartitionKey,
  publishedUntil,
  partitionDayStart,
  type ReadingRejectReason,
  type HourlyAverage,
  type SkipReason,
  type WindowEntry,
} from '@temps/streams';
import { AGGREGATOR_CONFIG } from './aggregator.constants';
import type { AggregatorConfig } from './aggregator-config';
import { AggregatorMetrics } from './aggregator.metrics';
import { AggregatorRepository } from './aggregator.repository';
import { initialState, leaveMark, type AggregatorState } from './aggregator-state';

const REJECTION_LOG_EVERY_MS = 10_000;

/** How often an idle aggregator looks for entries written into partitions it has left. */
const LEFT_CHECK_EVERY_MS = 2_000;

/** The saved cursor is not the one this process holds (seen on an idle turn). */
class StateChangedError extends Error {
  override name = 'StateChangedError';
}

/** The saved state disappeared and there is no rule to begin again by: ends the aggregator. */
export class StateLostError extends Error {
  override name = 'StateLostError';
  readonly fatal = true;
}

/** Entries per read: large enough to amortise a round trip, small enough to commit often. */
export const READ_BATCH = 5_000;

/**
 * The aggregating consumer: folds partition entries into hourly averages and commits each step
 * (averages + cursor + running totals) atomically. It owns its position: the transport asks it
 * where to read, and a step that failed to commit is simply read again.
 */
@Injectable()
export class AggregatorService implements StreamCursorSource {
  private readonly logger = new Logger('Aggregator');
  private state: AggregatorState | null = null;
  private waiting = false;
  /** Whether the last read filled a whole batch, so more is probably waiting in the same partition. */
  private backlog = false;
  private readonly pendingRejections = new Map<ReadingRejectReason, number>();
  private lastLeftCheck = 0;
  /** Who saved the state this process holds (itself once it has committed). */
  private writer: string | null = null;
  /** The producer's watermark as last read (Unix ms; null: no producer state). */
  private watermarkMs: number | null = null;
  /** Whether the last read held only entries ahead of the watermark. */
  private holding = false;
  /** Early entries already counted, so that each is counted once however often it is read. */
  private readonly earlySeen = new Set<string>();
  /** Set while another aggregator writes the state: the saved state and since when it is unchanged. */
  private standby: Standby | null = null;
  private lastRejectionLog = 0;

  constructor(
    @Inject(AGGREGATOR_CONFIG) private readonly config: AggregatorConfig,
    private readonly repository: AggregatorRepository,
    private readonly metrics: AggregatorMetrics,
    private readonly console: ConsoleOutput,
  ) {}

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
    // In standby, or only early entries were there to read: an idle turn.
    if (this.standby) return [];
    const { streamKey, lastId } = this.current();
    if (this.holding) {
      this.holding = false;
      return [];
    }
    // While the partition still has a backlog, read only it (it was a stream a moment ago).
    if (this.backlog) return [[streamKey, lastId]];
    // Once drained, watch the next day too (its first entry means this one is complete) so either
    // wakes the blocking read. A key of another type under a partition's name would fail the whole
    // XREAD: leave it out (a current partition that is not a stream then counts as gone).
    const next = nextPartitionKey(streamKey);
    const cursor: StreamCursor = next
      ? [
          [streamKey, lastId],
          [next, '0'],
        ]
      : [[streamKey, lastId]];
    const readable = await this.repository.readable(cursor.map(([key]) => key));
    return cursor.filter((_, i) => readable[i]);
  }

  failed(): void {
    // Whatever failed, look at the keys again before the next read.
    this.backlog = false;
  }

  async handle(event: StreamReadEvent): Promise<void> {
    if (this.standby) return this.watchOther(this.standby);
    try {
      await this.step(event);
    } catch (error) {
      if (!(error instanceof StateChangedError) && !(error instanceof StaleStateError)) {
        throw error;
      }
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
    this.logger.warn(
      `Another aggregator is writing ${AGGREGATOR_STATE_KEY} (now at ${saved.streamKey}, message ${saved.lastId}); this one waits until it has been quiet for ${Standby.QUIET_MS / 1000} s.`,
    );
    this.standby = new Standby(saved);
  }

  /** In standby: take over once the state has not changed for Standby.QUIET_MS. */
  private async watchOther(standby: Standby): Promise<void> {
    const saved = await this.repository.load();
    if (saved === null) return this.stateGone();
    if (!standby.isQuiet(saved)) return;
    this.standby = null;
    this.state = saved;
    this.writer = (await this.repository.loadWithWriter())?.writer ?? null;
    this.backlog = false;
    this.logger.warn(
      `${AGGREGATOR_STATE_KEY} has not changed for ${Standby.QUIET_MS / 1000} s; continuing from ${saved.streamKey}, message ${saved.lastId}.`,
    );
  }

  /** The saved state disappeared under this process: begin again as a first start would. */
  private async stateGone(): Promise<void> {
    this.standby = null;
    if (!this.config.fromOldest) {
      throw new StateLostError(
        `${AGGREGATOR_STATE_KEY} disappeared from Redis while the aggregator ran; start it again with a partition name (or --from-oldest) to begin again.`,
      );
    }
    this.logger.warn(
      `${AGGREGATOR_STATE_KEY} disappeared from Redis while the aggregator ran; starting again from the oldest partition.`,
    );
    this.state = null;
    this.backlog = false;
    this.waiting = false;
    const state = await this.startFromOldest();
    if (!state) return this.stateGone();
    this.state = state;
    this.announce(state);
  }

  private async step(event: StreamReadEvent): Promise<void> {
    const from = this.current();
    const read = (stream: string) => event.reads.find((r) => r.stream === stream)?.entries ?? [];
    const here = read(from.streamKey);
    if (here.length > 0) return this.consume(from, from, here);

    const next = nextPartitionKey(from.streamKey);
    const there = next ? read(next) : [];
    if (next && there.length > 0) {
      // With a producer's watermark, only the watermark says this day is complete: entries in the
      // next partition before it has passed the day's end are early (a clock running ahead).
      const watermarkMs = await this.freshWatermark(entryIdMs(there[0][0]));
      const dayEnd = partitionDayStart(from.streamKey)! + DAY_MS;
      if (watermarkMs !== null && watermarkMs < dayEnd) {
        this.holdEarly(next, there, watermarkMs);
        return this.whenDrained(from);
      }
      // A partition that vanished while being read (expired, deleted) is not silently passed over.
      const vanished = from.lastId !== '0' && !(await this.repository.exists(from.streamKey));
      const left = leaveMark(from.left, vanished ? {} : { [from.streamKey]: from.lastId });
      await this.consume(from, { ...from, streamKey: next, lastId: '0', left }, there);
      if (vanished) this.reportSkipped([{ key: from.streamKey, reason: 'expired' }]);
      this.changedPartition(next);
      return;
    }
    await this.whenDrained(from);
  }

  /**
   * The producer's watermark, read again when `neededMs` is at or past the one last seen (it only
   * grows, so an entry below the last one seen is below the current one too). Null: no producer.
   */
  private async freshWatermark(neededMs: number): Promise<number | null> {
    if (this.watermarkMs === null || neededMs >= this.watermarkMs) {
      this.watermarkMs = await this.repository.watermark();
    }
    return this.watermarkMs;
  }

  /**
   * Entries ahead of the producer's watermark are not read: they wait where they are (the cursor
   * stays before them, so nothing the producer writes later is passed over) and close nothing.
   * Each is counted once as `early`; the next read of them comes after an idle turn.
   */
  private holdEarly(stream: string, entries: readonly StreamEntry[], watermarkMs: number): void {
    this.holding = true;
    const unseen = entries.filter(([id]) => !this.earlySeen.has(id));
    if (unseen.length === 0) return;
    if (this.earlySeen.size > 100_000) this.earlySeen.clear();
    unseen.forEach(([id]) => this.earlySeen.add(id));
    this.metrics.readingsRejected.inc({ reason: 'early' }, unseen.length);
    this.logger.warn(
      `${stream} holds ${unseen.length} reading${unseen.length === 1 ? '' : 's'} from ${unseen[0][0]} on, ahead of the producer's watermark (${new Date(watermarkMs).toISOString()}): left unread until the watermark reaches them.`,
    );
  }

  /** Folds a partition's entries into the window and commits, moving the cursor to the last one. */
  private async consume(
    from: AggregatorState,
    at: AggregatorState,
    all: StreamEntry[],
  ): Promise<void> {
    // Entries are in time order: those ahead of the producer's watermark are a tail left unread.
    const watermarkNow = await this.freshWatermark(entryIdMs(all[all.length - 1][0]));
    let entries = all;
    if (watermarkNow !== null) {
      const ahead = all.findIndex(([id]) => entryIdMs(id) >= watermarkNow);
      if (ahead >= 0) {
        this.holdEarly(at.streamKey, all.slice(ahead), watermarkNow);
        entries = all.slice(0, ahead);
      }
    }
    const dayStart = partitionDayStart(at.streamKey)!;
    const usable: WindowEntry[] = [];
    const rejected = new Map<ReadingRejectReason, number>();
    let accepted = 0;
    for (const [id, fields] of entries) {
      const ms = entryIdMs(id);
      // An ID outside the partition's day would corrupt the hours, and a reading of an hour
      // already published can no longer count: neither enters the window.
      const temp =
        ms < dayStart || ms >= dayStart + DAY_MS
          ? 'wrong_partition'
          : ms < at.publishedUntilMs
            ? 'late'
            : decodeTemp(fields);
      if (typeof temp === 'number') {
        usable.push({ ms, temp });
        accepted++;
        continue;
      }
      rejected.set(temp, (rejected.get(temp) ?? 0) + 1);
      if (temp !== 'wrong_partition' && temp !== 'late') usable.push({ ms, rejected: temp });
    }
    this.backlog = !this.holding && all.length >= READ_BATCH;
    const { state: window, closed } = foldEntries(at.window, usable);
    const to: AggregatorState = {
      streamKey: at.streamKey,
      lastId: entries.length > 0 ? entries[entries.length - 1][0] : at.lastId,
      window,
      publishedUntilMs: publishedUntil(at.publishedUntilMs, closed),
      left: at.left,
    };
    // Nothing to read before the watermark and no partition change: nothing to commit.
    if (entries.length === 0 && to.streamKey === from.streamKey) return;
    const watermarkMs = await this.commit(from, to, closed);

    this.metrics.readingsAggregated.inc(accepted);
    rejected.forEach((count, reason) => this.metrics.readingsRejected.inc({ reason }, count));
    this.reportRejections(to.streamKey, rejected);
    this.waiting = false;
    // Caught up, and the producer has moved past this hour or day: act now rather than after a
    // blocking read times out.
    const dayEnd = dayStart + DAY_MS;
    const hourEnd = window.count > 0 ? window.hourStartMs + HOUR_MS : Infinity;
    if (!this.backlog && watermarkMs !== null && watermarkMs >= Math.min(hourEnd, dayEnd)) {
      await this.whenDrained(to);
    }
  }

  /** Nothing new: close the open hour if the watermark passed it, move on if the partition is finished. */
  private async whenDrained(from: AggregatorState): Promise<void> {
    // The partitions first, then the watermark with the partition's end in one snapshot: every
    // reading the watermark or a later partition vouches for is in Redis by then. Unless all of
    // them have been read, closing an hour or leaving the day now would lose the rest: read on.
    const existing = await this.repository.partitions();
    const { watermarkMs, exists, lastId, saved } = await this.repository.progress(from.streamKey);
    this.watermarkMs = watermarkMs;
    // Idle turns check the saved cursor too, so a state deleted or rewritten is noticed at once.
    if (
      saved.streamKey !== from.streamKey ||
      saved.lastId !== from.lastId ||
      saved.writer !== this.writer
    ) {
      throw new StateChangedError();
    }
    if (lastId !== null && compareEntryIds(lastId, from.lastId) > 0) return;
    const closing =
      watermarkMs === null
        ? { state: from.window, closed: [] }
        : closeThrough(from.window, watermarkMs);
    const advance = advanceWhenDrained({
      current: from.streamKey,
      currentExists: exists,
      currentStarted: from.lastId !== '0',
      existing,
      watermarkMs,
    });

    if (advance.kind === 'move') {
      // An hour still open is closed by the first later entry, wherever it comes from.
      // Left behind: the current partition (if still there) at the last entry read, and the days
      // skipped, unread. Entries written there from now on are late.
      const marks: Record<string, string> = Object.fromEntries(
        advance.skipped.map(({ key }) => [key, '0']),
      );
      if (exists) marks[from.streamKey] = from.lastId;
      const to = {
        streamKey: advance.to,
        lastId: '0',
        window: closing.state,
        publishedUntilMs: publishedUntil(from.publishedUntilMs, closing.closed),
        left: leaveMark(from.left, marks),
      };
      await this.commit(from, to, closing.closed);
      this.reportSkipped(advance.skipped);
      this.changedPartition(advance.to);
      return;
    }
    const to = {
      ...from,
      window: closing.state,
      publishedUntilMs: publishedUntil(from.publishedUntilMs, closing.closed),
    };
    if (closing.closed.length > 0) {
      await this.commit(from, to, closing.closed);
      return;
    }
    if (watermarkMs !== null)
      this.metrics.lag.set(Math.max(0, watermarkMs - this.positionMs(from)) / 1000);
    if (await this.countLateInLeft(from, existing)) return;
    this.reportRejections(from.streamKey, new Map()); // anything held back since the last summary
    if (!this.waiting) {
      this.waiting = true;
      this.print(`Waiting for new messages in stream ${from.streamKey}, or new stream partition.`);
    }
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
    if (Date.now() - this.lastLeftCheck < LEFT_CHECK_EVERY_MS) return false;
    this.lastLeftCheck = Date.now();
    const there = new Set(existing);
    const watched = Object.entries(from.left ?? {}).filter(([key]) => there.has(key));
    if (watched.length === 0) return false;
    const newest = await this.repository.newestIds(watched.map(([key]) => key));
    const marks: Record<string, string> = {};
    const late = new Map<string, number>();
    for (const [i, [key, mark]] of watched.entries()) {
      const top = newest[i];
      if (top === null || (mark !== '0' && compareEntryIds(top, mark) <= 0)) continue;
      const ids = await this.repository.idsAfter(key, mark, READ_BATCH);
      if (ids.length === 0) continue;
      marks[key] = ids[ids.length - 1];
      late.set(key, ids.length);
    }
    if (late.size === 0) return false;
    await this.commit(from, { ...from, left: leaveMark(from.left, marks) }, []);
    const total = [...late.values()].reduce((sum, count) => sum + count, 0);
    this.metrics.readingsRejected.inc({ reason: 'late' }, total);
    const where = [...late].map(([key, count]) => `${key} (${count})`).join(', ');
    this.logger.warn(
      `Left ${total} late reading${total === 1 ? '' : 's'} out of the averages, written into partitions already aggregated: ${where}.`,
    );
    this.lastLeftCheck = 0; // more may be waiting
    return true;
  }

  /** Commits a step; returns the producer's watermark as read in the same atomic step. */
  private async commit(
    from: AggregatorState,
    to: AggregatorState,
    closed: readonly HourlyAverage[],
  ): Promise<number | null> {
    const { added, watermarkMs } = await this.repository.commit(from, to, closed);
    this.state = to;
    this.writer = this.repository.instanceId;
    this.watermarkMs = watermarkMs;
    this.metrics.averagesWritten.inc(added);
    const latest = closed[closed.length - 1];
    if (latest) this.metrics.latestAverage.set(latest.total / latest.count);
    if (watermarkMs !== null) {
      this.metrics.lag.set(Math.max(0, watermarkMs - this.positionMs(to)) / 1000);
    }
    return watermarkMs;
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

  /** Simulated time the aggregator has reached: its last entry, or the start of its partition. */
  private positionMs(state: AggregatorState): number {
    return state.lastId === '0' ? partitionDayStart(state.streamKey)! : entryIdMs(state.lastId);
  }

  private reportRejections(stream: string, rejected: Map<ReadingRejectReason, number>): void {
    rejected.forEach((count, reason) =>
      this.pendingRejections.set(reason, (this.pendingRejections.get(reason) ?? 0) + count),
    );
    if (
      this.pendingRejections.size === 0 ||
      Date.now() - this.lastRejectionLog < REJECTION_LOG_EVERY_MS
    )
      return;
    const summary = [...this.pendingRejections]
      .map(([reason, count]) => `${reason}: ${count}`)
      .join(', ');
    this.logger.warn(
      `Left unusable entries out of the averages (${summary}), latest in ${stream}.`,
    );
    this.pendingRejections.clear();
    this.lastRejectionLog = Date.now();
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
