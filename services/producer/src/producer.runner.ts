import { ThrottledLogger } from '@temps/common';
import { randomInt, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Heartbeat } from '@temps/health';
import {
  ForeignDataError,
  RedisOutOfMemoryError,
  StaleStateError,
  StateGoneError,
  TransientRetry,
  transientCause,
} from '@temps/redis';
import { SingleWriter } from '@temps/runtime';
import {
  PRODUCER_STATE_KEY,
  ReadingGenerator,
  partitionKeyFor,
  partitionKeysBetween,
  startOfDay,
  DAY_MS,
} from '@temps/streams';
import {
  PRODUCER_CLOCK,
  PRODUCER_CONFIG,
  SYSTEM_CLOCK,
  type RunnerClock,
} from './producer.constants';
import type { ProducerConfig, RunOption } from './producer-config';
import { ProducerMetrics } from './producer.metrics';
import { ProducerRepository, type SavedRun } from './producer.repository';
import { ProgressReporter } from './progress-reporter';
import { writeAhead } from './write-ahead';

export class ResumeConflictError extends Error {
  override name = 'ResumeConflictError';
}

export class BlockedPartitionError extends Error {
  override name = 'BlockedPartitionError';
}

/** Redis refused a batch for lack of memory (maxmemory with noeviction). */
export class RedisFullError extends Error {
  override name = 'RedisFullError';
}

/** The run this process was writing disappeared from Redis or was replaced by another run. */
export class RunLostError extends Error {
  override name = 'RunLostError';
}

/** Memory a reading takes in a partition with Redis's default stream node settings (measured). */
const BYTES_PER_READING = 20;

/** Runs the producer: starts or resumes a run, then writes batch after batch until done or stopped. */
@Injectable()
export class ProducerRunner {
  private readonly logger = new Logger('Producer');
  /** A blocked write is retried every second: one line per 30 s while it lasts. */
  private readonly blockedLog = new ThrottledLogger(this.logger);
  /** Redis refusing for a while (MISCONF, BUSY, READONLY…): one line, back-off 1 s → 10 s. */
  private readonly transient = new TransientRetry(this.logger);
  private readonly stopping = new AbortController();
  /** Another producer writing this run: wait until its state is quiet, then take over. */
  private readonly writer: SingleWriter<string>;

  constructor(
    @Inject(PRODUCER_CONFIG) private readonly config: ProducerConfig,
    private readonly repository: ProducerRepository,
    private readonly metrics: ProducerMetrics,
    private readonly heartbeat: Heartbeat,
    private readonly reporter: ProgressReporter,
    @Optional() @Inject(PRODUCER_CLOCK) private readonly clock: RunnerClock = SYSTEM_CLOCK,
  ) {
    this.writer = new SingleWriter({ now: () => this.clock.now() });
  }

  /** Ends the run after the batch in flight (each batch is atomic, so any stop point is consistent). */
  stop(): void {
    this.stopping.abort();
  }

  async run(): Promise<void> {
    this.metrics.lanesHeld.set(1); // the default layout is one lane, always this process's
    let run = await this.throughTransient(() => this.prepareRun());
    while (run) {
      try {
        await this.write(run);
        return;
      } catch (error) {
        if (this.stopping.signal.aborted) throw error;
        const failed = run;
        run = await this.throughTransient(() => this.recover(failed, error));
        if (this.stopping.signal.aborted) return;
      }
    }
  }

  /**
   * Runs `attempt` until it does not fail with a refusal that clears by itself (TransientCode:
   * MISCONF, BUSY, READONLY…): meanwhile unhealthy with the reason, one line, back-off 1 s → 10 s.
   * A refused batch wrote nothing (a script is refused before its first write), and the next one
   * starts from the position Redis holds, so nothing is lost or written twice.
   */
  private async throughTransient<T>(attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        const transient = transientCause(error);
        if (!transient || this.stopping.signal.aborted) throw error;
        this.heartbeat.blocked(transient.reason);
        await this.pause(this.transient.refused(transient));
      }
    }
  }

  /**
   * After a failed write: decides by the error's type whether to end, wait or stand by, and returns
   * the run as Redis holds it to go on from.
   */
  private async recover(run: SavedRun, error: unknown): Promise<SavedRun> {
    const transient = transientCause(error);
    if (transient) {
      // Refused for a while (MISCONF, BUSY, READONLY…): the batch wrote nothing. Unhealthy with the
      // reason, one line, back-off; then on from the position Redis holds.
      this.heartbeat.blocked(transient.reason);
      await this.pause(this.transient.refused(transient));
    } else if (error instanceof ForeignDataError) {
      // Someone else's key or entries where this run must write: a bounded run says so and
      // ends; a following producer keeps trying (unhealthy meanwhile) until they are removed.
      if (run.endMs !== null) throw new BlockedPartitionError(error.detail);
      this.reportBlocked(error.detail);
      await this.pause(1_000);
    } else if (error instanceof RedisOutOfMemoryError) {
      // Redis refused the whole batch (a script that writes is refused before it runs): a
      // bounded run says why and ends; a following one waits for expiry to free memory.
      const full = await this.describeFull(run);
      if (run.endMs !== null) throw new RedisFullError(full);
      this.reportBlocked(full);
      await this.pause(1_000);
    } else if (error instanceof StateGoneError) {
      // The run this process was writing is no longer in Redis: never write it back from memory.
      throw new RunLostError(
        `${error.detail} (deleted, or evicted under an allkeys-* maxmemory-policy); start the producer again to begin a new run.`,
      );
    } else if (error instanceof StaleStateError) {
      // The saved run is not this one at this batch's start: another run replaced it (stop),
      // this process's own batch applied just before a connection dropped and sent again by
      // ioredis (go on quietly), or another producer writing the same run (stand by).
      const progress = await this.repository.progress();
      if (progress && progress.runId !== run.runId) {
        throw new RunLostError(
          `${PRODUCER_STATE_KEY} now holds run ${progress.runId}, not this producer run ${run.runId}: another producer started a new run, so this one stops.`,
        );
      }
      if (progress && !progress.mine) await this.waitForOther(progress.watermarkMs);
    } else {
      throw error;
    }
    // Redis holds the truth: continue from the saved position.
    const saved = await this.repository.loadRun();
    if (!saved) {
      throw new RunLostError(
        `${PRODUCER_STATE_KEY} disappeared from Redis while the producer ran (deleted, or evicted under an allkeys-* maxmemory-policy); start the producer again to begin a new run.`,
      );
    }
    return saved;
  }

  /** Another process writes this run: say so once, wait until it has been quiet for 10 s. */
  private async waitForOther(watermark: string): Promise<void> {
    this.writer.onRefused(watermark);
    this.logger.warn(
      `Another producer is writing this run (${PRODUCER_STATE_KEY}); this one waits until it has been quiet for ${SingleWriter.QUIET_MS / 1000} s.`,
    );
    while (!this.stopping.signal.aborted) {
      this.heartbeat.beat(); // waiting on purpose, not stuck
      await this.pause(1_000);
      const progress = await this.repository.progress();
      if (!progress) return; // gone: reported by the caller
      if (this.writer.poll(progress.watermarkMs) === 'take-over') break;
    }
    if (this.stopping.signal.aborted) return;
    this.logger.warn(
      `${PRODUCER_STATE_KEY} has not changed for ${SingleWriter.QUIET_MS / 1000} s; continuing the run.`,
    );
  }

  /** One line on a full Redis: how much memory this run needs, and what to change. */
  private async describeFull(run: SavedRun): Promise<string> {
    const { usedBytes, maxBytes } = await this.repository
      .memory()
      .catch(() => ({ usedBytes: 0, maxBytes: 0 }));
    const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
    const perDay = Math.ceil(DAY_MS / run.intervalMs) * run.devices;
    // A partition lives until two days after its last reading: a paced run holds up to three days;
    // one at --speed max holds everything it writes (its expiry is days away in real time).
    const days = run.paced
      ? 3
      : run.endMs === null
        ? null
        : Math.ceil((run.endMs - run.startMs) / DAY_MS);
    const need =
      days === null
        ? 'a --follow run at --speed max keeps every reading it writes for days of real time; give it a --speed'
        : `this run keeps up to ${(days * perDay).toLocaleString('en-US')} readings alive at once (${days} days × ${perDay.toLocaleString('en-US')} a day), about ${mb(days * perDay * BYTES_PER_READING)} at ~${BYTES_PER_READING} bytes a reading (~15 with stream-node-max-entries 1000 and stream-node-max-bytes 0); raise maxmemory, or write fewer days or devices or a longer --interval-ms`;
    return `Redis is full (used_memory ${mb(usedBytes)}, maxmemory ${mb(maxBytes)}) and refused a batch of readings, writing none of it: ${need}`;
  }

  private reportBlocked(reason: string): void {
    this.heartbeat.blocked(reason);
    this.blockedLog.error(`Cannot write: ${reason}. Retrying every second.`, 'blocked');
  }

  private async prepareRun(): Promise<SavedRun | null> {
    if (this.config.resume) {
      const saved = await this.repository.loadRun();
      if (saved) {
        this.checkResumable(saved);
        if (saved.endMs !== null && saved.watermarkMs >= saved.endMs) {
          this.reporter.line('The last run is already complete; nothing to resume.');
          return null;
        }
        this.reporter.line(
          `Resuming at ${new Date(saved.watermarkMs).toISOString()} in stream partition ${partitionKeyFor(saved.watermarkMs)}.`,
        );
        return saved;
      }
      this.reporter.line('No run to resume; starting a new one.');
    }
    return this.startNewRun();
  }

  private async startNewRun(): Promise<SavedRun> {
    const { config } = this;
    const now = this.clock.now();
    const startMs = config.start === 'now' ? Math.floor(now / 1000) * 1000 : config.start;
    const endMs = config.days === null ? null : startMs + config.days * DAY_MS;
    const seed = config.seed ?? randomInt(0, 2 ** 32);
    const generator = ReadingGenerator.seeded(seed, config.devices);
    const run: SavedRun = {
      runId: randomUUID(),
      startMs,
      endMs,
      intervalMs: config.intervalMs,
      devices: config.devices,
      seed,
      rate: config.speed === 'max' ? 1 : config.speed,
      paced: config.speed !== 'max',
      realStartMs: now,
      watermarkMs: startMs,
      generator: generator.state(),
    };
    const partitions =
      endMs === null
        ? await this.repository.partitionsFrom(startOfDay(startMs))
        : partitionKeysBetween(startMs, endMs);
    const foreign = await this.repository.foreignKeys(partitions);
    if (foreign.length > 0) {
      throw new BlockedPartitionError(
        `${foreign.map(({ key, type }) => `${key} is a ${type}`).join(', ')}, not a stream; the producer deletes and writes only streams there. Remove it or choose other days.`,
      );
    }
    this.reporter.line('Deleting old streams:');
    partitions.forEach((key) => this.reporter.line(key));
    await this.repository.startRun(partitions, run);
    return run;
  }

  private checkResumable(saved: SavedRun): void {
    const { config } = this;
    const wanted: Record<RunOption, [unknown, unknown]> = {
      start: [config.start, saved.startMs],
      days: [config.days, saved.endMs === null ? null : (saved.endMs - saved.startMs) / DAY_MS],
      intervalMs: [config.intervalMs, saved.intervalMs],
      devices: [config.devices, saved.devices],
      seed: [config.seed, saved.seed],
      speed: [config.speed === 'max' ? 'max' : config.speed, saved.paced ? saved.rate : 'max'],
      // The default layout has no lanes (a --shards run is the lanes runner's).
      shards: [config.shards ?? null, null],
    };
    for (const option of config.explicit) {
      const [asked, actual] = wanted[option];
      if (option === 'start' && asked === 'now') continue;
      if (asked !== actual) {
        throw new ResumeConflictError(
          `Cannot resume: the saved run has ${option} = ${String(actual)}, but ${String(asked)} was asked for. Drop the option or start a new run without --resume.`,
        );
      }
    }
  }

  private async write(run: SavedRun): Promise<void> {
    const total =
      run.endMs === null ? 0 : Math.ceil((run.endMs - run.startMs) / run.intervalMs) * run.devices;
    let written = Math.ceil((run.watermarkMs - run.startMs) / run.intervalMs) * run.devices;
    const writtenAtStart = written;
    const began = this.clock.now();
    let partition = '';
    this.metrics.watermark.set(run.watermarkMs / 1000);
    this.reporter.start(total, written);

    let plannedMs: number;
    try {
      plannedMs = await writeAhead({
        plan: run,
        fromMs: run.watermarkMs,
        generator: ReadingGenerator.fromState(run.generator),
        now: () => this.clock.now(),
        partitionFor: (firstMs) => {
          const key = partitionKeyFor(firstMs);
          if (key !== partition) {
            partition = key;
            this.reporter.line(`Populating stream partition ${key}.`);
          }
          return key;
        },
        send: (batch) => this.repository.writeBatch(run, batch),
        applied: (readings, watermarkMs) => {
          this.heartbeat.beat();
          this.transient.succeeded();
          written += readings;
          this.metrics.readingsProduced.inc(readings);
          this.metrics.batchesWritten.inc();
          this.metrics.watermark.set(watermarkMs / 1000);
          this.reporter.update(
            written,
            ((written - writtenAtStart) * 1000) / Math.max(1, this.clock.now() - began),
          );
        },
        idle: async (dueMs, caughtUp) => {
          // Ahead of the clock with nothing refused: healthy. (A batch beats once applied.)
          if (caughtUp) this.heartbeat.beat();
          await this.pause(Math.min(dueMs, 1_000));
        },
        stopped: () => this.stopping.signal.aborted,
      });
    } finally {
      this.reporter.stop();
    }
    if (run.endMs !== null && plannedMs >= run.endMs) {
      this.reporter.line(
        `Wrote ${written.toLocaleString('en-US')} readings up to ${new Date(run.endMs).toISOString()}.`,
      );
    }
  }

  private async pause(ms: number): Promise<void> {
    if (ms <= 0) return;
    await this.clock.sleep(ms, this.stopping.signal);
  }
}
