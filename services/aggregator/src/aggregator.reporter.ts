import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ThrottledLogger } from '@temps/common';
import { ConsoleOutput, SingleWriter } from '@temps/runtime';
import {
  AGGREGATOR_STATE_KEY,
  REGISTRY_KEY,
  lagSeconds,
  type AggregatorState,
  type FoldStep,
  type HourlyAverage,
  type ReadingRejectReason,
  type SkipReason,
  utcDay,
} from '@temps/streams';
import { AGGREGATOR_CLOCK } from './aggregator.constants';
import { AggregatorMetrics } from './aggregator.metrics';

/** Unusable entries are summarised in the log at most this often (ms). */
const REJECTION_LOG_EVERY_MS = 10_000;

/**
 * Everything the aggregator tells a person: the seed's console lines, the log lines (throttled
 * where they could repeat) and the metrics. The service decides; this only reports.
 */
@Injectable()
export class AggregatorReporter {
  private readonly logger = new Logger('Aggregator');
  private readonly pendingRejections = new Map<ReadingRejectReason, number>();
  /** A stalled lane is named once, then every 30 s while it lasts. */
  private readonly stalls = new ThrottledLogger(this.logger);
  private lastRejectionLog = 0;
  /** "Waiting for new messages…" is printed once per wait. */
  private waiting = false;

  constructor(
    private readonly metrics: AggregatorMetrics,
    private readonly console: ConsoleOutput,
    @Optional() @Inject(AGGREGATOR_CLOCK) private readonly now: () => number = Date.now,
  ) {}

  started(state: AggregatorState): void {
    this.waiting = false;
    this.console.line(
      `Starting aggregating consumer in stream ${state.streamKey} at message ${state.lastId}.`,
    );
    this.partition(state.streamKey);
  }

  /** The lanes layout: where each lane starts. */
  startedLanes(lanes: readonly AggregatorState[]): void {
    this.waiting = false;
    this.metrics.partition.reset();
    for (const { streamKey, lastId } of lanes) {
      this.console.line(
        `Starting aggregating consumer in stream ${streamKey} at message ${lastId}.`,
      );
      this.metrics.partition.set({ stream: streamKey }, 1);
    }
  }

  waitingForRun(): void {
    this.console.line(`Waiting for the producers' run (${REGISTRY_KEY}).`);
  }

  /**
   * Each lane's lag behind the newest lane (`lags`, simulated seconds, by tag); when one lane has
   * held the run's watermark back for `stalledForMs` ≥ `stallMs`, one line naming it (throttled).
   */
  lanes(
    tags: readonly string[],
    lags: readonly number[],
    slowest: number | null,
    stalledForMs: number,
    stallMs: number,
  ): void {
    tags.forEach((lane, i) => this.metrics.laneLag.set({ lane }, lags[i]));
    if (slowest === null || stalledForMs < stallMs) {
      this.stalls.reset();
      return;
    }
    this.stalls.warn(
      `Lane ${tags[slowest]} holds every hour back: its watermark has not moved for ${Math.round(stalledForMs / 1000)} s and is ${lags[slowest]} simulated s behind the newest lane (no producer writing it? see HGETALL ${REGISTRY_KEY}).`,
      'stall',
    );
  }

  waitingForPartition(): void {
    this.console.line('Waiting for the first stream partition.');
  }

  /** A fold's readings: aggregated, rejected by reason, early. */
  folded(step: FoldStep, stream: string): void {
    if (step.accepted > 0) this.metrics.readingsAggregated.inc(step.accepted);
    const rejected = new Map(Object.entries(step.rejected) as [ReadingRejectReason, number][]);
    rejected.forEach((count, reason) => this.metrics.readingsRejected.inc({ reason }, count));
    this.rejections(stream, rejected);
    if (step.early) this.early(stream, step.early.firstId, step.early.count);
  }

  early(stream: string, firstId: string, count: number): void {
    this.metrics.readingsRejected.inc({ reason: 'early' }, count);
    this.logger.warn(
      `${stream} holds ${count} reading${count === 1 ? '' : 's'} from ${firstId} on, ahead of the producer's watermark: left unread until the watermark reaches them.`,
    );
  }

  /** A committed step (Unix ms watermark as the commit read it; null: no producer). */
  committed(
    from: AggregatorState,
    to: AggregatorState,
    closed: readonly HourlyAverage[],
    added: number,
    watermarkMs: number | null,
  ): void {
    if (to.lastId !== from.lastId || to.streamKey !== from.streamKey) this.waiting = false;
    this.metrics.averagesWritten.inc(added);
    // Hours already on temps:averages are the first ones closed; only those added are counted.
    for (const hour of closed.slice(closed.length - added)) {
      if (!hour.partial) continue;
      this.metrics.partialHours.inc({ reason: hour.partial });
      this.logger.warn(
        `Published ${utcDay(hour.hourStartMs, '/')} hour ${new Date(hour.hourStartMs).getUTCHours()} as partial (${hour.count} readings): readings of it were lost before they were read (${hour.partial === 'expired' ? 'its partition expired' : 'its partition was evicted or deleted'}).`,
      );
    }
    const latest = closed[closed.length - 1];
    if (latest) this.metrics.latestAverage.set(latest.total / latest.count);
    if (watermarkMs !== null) this.lag(to, watermarkMs);
  }

  lag(state: AggregatorState, watermarkMs: number): void {
    this.metrics.lag.set(lagSeconds(state, watermarkMs));
  }

  moved(to: string, skipped: readonly { key: string; reason: SkipReason }[]): void {
    for (const { key, reason } of skipped) {
      this.metrics.partitionsSkipped.inc({ reason });
      this.logger.warn(
        reason === 'expired'
          ? `Partition ${key} expired before it was fully read (or was evicted under maxmemory); continuing with the next one.`
          : `Skipping ${key}: no readings that day.`,
      );
    }
    this.console.line(`Changing partition to consume stream: ${to}`);
    this.waiting = false;
    this.partition(to);
  }

  /** Nothing to do: say so once (and flush any rejections held back). */
  idle(stream: string): void {
    this.rejections(stream, new Map());
    if (this.waiting) return;
    this.waiting = true;
    this.console.line(`Waiting for new messages in stream ${stream}, or new stream partition.`);
  }

  lateInLeft(late: ReadonlyMap<string, number>): void {
    const total = [...late.values()].reduce((sum, count) => sum + count, 0);
    this.metrics.readingsRejected.inc({ reason: 'late' }, total);
    const where = [...late].map(([key, count]) => `${key} (${count})`).join(', ');
    this.logger.warn(
      `Left ${total} late reading${total === 1 ? '' : 's'} out of the averages, written into partitions already aggregated: ${where}.`,
    );
  }

  standingBy(saved: AggregatorState, key = AGGREGATOR_STATE_KEY): void {
    this.logger.warn(
      `Another aggregator is writing ${key} (now at ${saved.streamKey}, message ${saved.lastId}); this one waits until it has been quiet for ${SingleWriter.QUIET_MS / 1000} s.`,
    );
  }

  tookOver(saved: AggregatorState, key = AGGREGATOR_STATE_KEY): void {
    this.logger.warn(
      `${key} has not changed for ${SingleWriter.QUIET_MS / 1000} s; continuing from ${saved.streamKey}, message ${saved.lastId}.`,
    );
  }

  beginningAgain(key = AGGREGATOR_STATE_KEY): void {
    this.logger.warn(
      `${key} disappeared from Redis while the aggregator ran (deleted, or evicted under an allkeys-* maxmemory-policy); starting again from the oldest partition.`,
    );
  }

  private partition(stream: string): void {
    this.metrics.partition.reset();
    this.metrics.partition.set({ stream }, 1);
  }

  private rejections(stream: string, rejected: Map<ReadingRejectReason, number>): void {
    rejected.forEach((count, reason) =>
      this.pendingRejections.set(reason, (this.pendingRejections.get(reason) ?? 0) + count),
    );
    if (this.pendingRejections.size === 0) return;
    if (this.now() - this.lastRejectionLog < REJECTION_LOG_EVERY_MS) return;
    const summary = [...this.pendingRejections]
      .map(([reason, count]) => `${reason}: ${count}`)
      .join(', ');
    this.logger.warn(
      `Left unusable entries out of the averages (${summary}), latest in ${stream}.`,
    );
    this.pendingRejections.clear();
    this.lastRejectionLog = this.now();
  }
}
