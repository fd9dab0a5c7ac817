import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Heartbeat } from '@temps/health';
import {
  ReadingGenerator,
  partitionKeyFor,
  partitionKeysBetween,
  startOfDay,
  DAY_MS,
} from '@temps/streams';
import { PRODUCER_CONFIG } from './producer.constants';
import type { ProducerConfig, RunOption } from './producer-config';
import { ProducerMetrics } from './producer.metrics';
import { ProducerRepository, type SavedRun } from './producer.repository';
import { ProgressReporter } from './progress-reporter';
import { clockOf, nextStep, watermarkAfter } from './run-plan';

/** Readings per atomic batch: large enough to amortise the round trip, small enough not to stall Redis. */
export const MAX_BATCH_ENTRIES = 7_200;

export class ResumeConflictError extends Error {
  override name = 'ResumeConflictError';
}

export class BlockedPartitionError extends Error {
  override name = 'BlockedPartitionError';
}

/** The reason a batch was refused because its partition holds what this producer did not write. */
function blockedPartition(error: unknown): string | null {
  const match = /^(?:FOREIGN_KEY|FOREIGN_ENTRY) (.*)$/.exec(String((error as Error)?.message));
  return match ? match[1] : null;
}

/** Runs the producer: starts or resumes a run, then writes batch after batch until done or stopped. */
@Injectable()
export class ProducerRunner {
  private readonly logger = new Logger('Producer');
  private readonly stopping = new AbortController();
  private readonly reporter = new ProgressReporter();
  private lastBlockedLog = 0;

  constructor(
    @Inject(PRODUCER_CONFIG) private readonly config: ProducerConfig,
    private readonly repository: ProducerRepository,
    private readonly metrics: ProducerMetrics,
    private readonly heartbeat: Heartbeat,
  ) {}

  /** Ends the run after the batch in flight (each batch is atomic, so any stop point is consistent). */
  stop(): void {
    this.stopping.abort();
  }

  async run(): Promise<void> {
    let run = await this.prepareRun();
    while (run) {
      try {
        await this.write(run);
        return;
      } catch (error) {
        if (this.stopping.signal.aborted) throw error;
        const blocked = blockedPartition(error);
        if (blocked !== null) {
          // Someone else's key or entries where this run must write: a bounded run says so and
          // ends; a following producer keeps trying (unhealthy meanwhile) until they are removed.
          if (run.endMs !== null) throw new BlockedPartitionError(blocked);
          this.reportBlocked(blocked);
          await this.pause(1_000);
        } else if (String(error).includes('POSITION_MISMATCH')) {
          // After a dropped connection ioredis sends unanswered commands again, and the Lua guard
          // refuses a batch that was in fact applied.
          this.logger.warn('A batch was refused as already written; continuing from Redis.');
        } else {
          throw error;
        }
        // Either way Redis holds the truth: continue from the saved position.
        run = await this.repository.loadRun();
      }
    }
  }

  private reportBlocked(reason: string): void {
    if (Date.now() - this.lastBlockedLog < 30_000) return;
    this.lastBlockedLog = Date.now();
    this.logger.error(`Cannot write: ${reason}. Retrying every second.`);
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
    const now = Date.now();
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
    const generator = ReadingGenerator.fromState(run.generator);
    const clock = clockOf(run);
    const total =
      run.endMs === null ? 0 : Math.ceil((run.endMs - run.startMs) / run.intervalMs) * run.devices;
    let written = Math.ceil((run.watermarkMs - run.startMs) / run.intervalMs) * run.devices;
    const writtenAtStart = written;
    const began = Date.now();
    // Planned (sent) position runs one batch ahead of the confirmed one: the next batch is built and
    // sent while Redis executes the current. The Lua guard keeps them in order; a failed batch
    // makes the one behind it fail too, without writing.
    let plannedMs = run.watermarkMs;
    let confirmed: Promise<void> = Promise.resolve();
    let confirmedMs = run.watermarkMs;
    let partition = '';
    this.metrics.watermark.set(run.watermarkMs / 1000);
    this.reporter.start(total, written);

    const confirm = async (sent: Promise<number>, readings: number, watermarkMs: number) => {
      await sent;
      confirmedMs = watermarkMs;
      this.heartbeat.beat();
      written += readings;
      this.metrics.readingsProduced.inc(readings);
      this.metrics.batchesWritten.inc();
      this.metrics.watermark.set(watermarkMs / 1000);
      this.reporter.update(
        written,
        ((written - writtenAtStart) * 1000) / Math.max(1, Date.now() - began),
      );
    };

    try {
      while (!this.stopping.signal.aborted) {
        const step = nextStep(run, plannedMs, Date.now(), MAX_BATCH_ENTRIES);
        if (step.kind === 'done') break;
        if (step.kind === 'wait') {
          // Ahead of the clock with nothing refused: healthy. (A batch beats once applied.)
          if (plannedMs === confirmedMs) this.heartbeat.beat();
          await this.pause(Math.min(step.untilRealMs - Date.now(), 1_000));
          continue;
        }
        const key = partitionKeyFor(step.firstMs);
        if (key !== partition) {
          partition = key;
          this.reporter.line(`Populating stream partition ${key}.`);
        }
        const temps = generator.next(step.ticks);
        const lastMs = step.firstMs + (step.ticks - 1) * run.intervalMs;
        plannedMs = watermarkAfter(run, step.firstMs, step.ticks);
        const sent = this.repository.writeBatch(run, {
          partition: key,
          firstMs: step.firstMs,
          temps,
          expireAtMs: clock.expiryFor(lastMs),
          watermarkMs: plannedMs,
          generator: generator.state(),
        });
        // If the batch ahead fails, this one is refused too and never awaited: not an unhandled rejection.
        sent.catch(() => undefined);
        await confirmed;
        confirmed = confirm(sent, temps.length, plannedMs);
        confirmed.catch(() => undefined); // surfaced by the next await, not as an unhandled rejection
      }
      await confirmed;
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
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }
}
