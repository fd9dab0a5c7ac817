import { ThrottledLogger } from '@temps/common';
import { randomInt, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Heartbeat } from '@temps/health';
import {
  FencedError,
  ForeignDataError,
  RedisOutOfMemoryError,
  StaleStateError,
  StateGoneError,
  TransientRetry,
  transientCause,
} from '@temps/redis';
import { ConfigError } from '@temps/runtime';
import {
  DAY_MS,
  LaneRegistryHash,
  ReadingGenerator,
  laneLayout,
  laneSeed,
  partitionKeyFor,
  partitionKeysBetween,
  startOfDay,
  type Lane,
  type LaneStateHash,
  type ProducerStateHash,
} from '@temps/streams';
import {
  PRODUCER_CLOCK,
  PRODUCER_CONFIG,
  SYSTEM_CLOCK,
  type RunnerClock,
} from './producer.constants';
import { LEASE_MS, type ProducerConfig, type RunOption } from './producer-config';
import { ProducerMetrics } from './producer.metrics';
import { ProducerRepository } from './producer.repository';
import {
  BlockedPartitionError,
  RedisFullError,
  ResumeConflictError,
  RunLostError,
} from './producer.runner';
import { LanesRepository, type LeaseCall } from './lanes.repository';
import { ProgressReporter } from './progress-reporter';
import { ReplicaConfirmer } from './replica-confirmer';
import { writeAhead } from './write-ahead';

type Registry = LaneRegistryHash.Registry;
type LaneState = LaneStateHash.LaneState;
type RunParams = ProducerStateHash.RunParams;

/**
 * A paced lane waits at least this long between batches (ms): at 3600x a tick is due every 0.3 ms,
 * and S lanes each waking that often would spend the CPU on timers. The watermark lags by at most
 * this much real time.
 */
const MIN_PACED_WAIT_MS = 20;

/** A lane this producer writes: its token, and how its loop is stopped. */
interface LaneJob {
  lane: Lane;
  token: string;
  abort: AbortController;
  done: Promise<void>;
  /** Stopped because another producer took it (said once), not given back on purpose. */
  lost: boolean;
}

/**
 * Runs the producer in the lanes layout (`--shards S`): joins or starts the run in the registry,
 * takes its fair share of the lanes through leases renewed every lease/3, writes each held lane from
 * its saved position (as --resume does) with the lane's fencing token, and gives its lanes back on
 * a stop. Any number of producers started with the same settings share the lanes evenly.
 */
@Injectable()
export class LanesRunner {
  private readonly logger = new Logger('Producer');
  private readonly blockedLog = new ThrottledLogger(this.logger);
  private readonly transient = new TransientRetry(this.logger);
  private readonly stopping = new AbortController();
  private readonly jobs = new Map<number, LaneJob>();
  /** Lanes whose writes are refused for now (health stays 503 while any is). */
  private readonly blocked = new Set<number>();
  private fatal: unknown = null;
  private wakeUp: AbortController = new AbortController();
  private written = 0;
  private heldLine = '';
  private readonly leaseMs: number;
  /** With REDIS_WAIT_REPLICAS: confirms the lanes' batches with replicas (null: off). */
  private readonly confirmer: ReplicaConfirmer | null;

  constructor(
    @Inject(PRODUCER_CONFIG) private readonly config: ProducerConfig,
    private readonly repository: ProducerRepository,
    private readonly lanes: LanesRepository,
    private readonly metrics: ProducerMetrics,
    private readonly heartbeat: Heartbeat,
    private readonly reporter: ProgressReporter,
    @Optional() @Inject(PRODUCER_CLOCK) private readonly clock: RunnerClock = SYSTEM_CLOCK,
  ) {
    this.leaseMs = config.leaseMs ?? LEASE_MS;
    this.confirmer = config.waitReplicas
      ? new ReplicaConfirmer(lanes, metrics, config.waitReplicas)
      : null;
  }

  /** This producer's id in the registry (`member:<id>`, `lane:<L>:holder`, lane `written_by`). */
  get producerId(): string {
    return this.repository.instanceId;
  }

  /** Finishes the batches in flight, gives the lanes back, ends. */
  stop(): void {
    this.stopping.abort();
    this.wakeUp.abort();
  }

  async run(): Promise<void> {
    const run = await this.throughTransient(() => this.prepareRun());
    if (!run) return;
    this.metrics.lanesHeld.set(0);
    this.reporter.line(
      `Producer ${this.producerId} in run ${run.runId}: ${run.shards} lanes, lease ${this.leaseMs} ms.`,
    );
    let finished = false;
    try {
      while (!this.stopping.signal.aborted && this.fatal === null) {
        const call = await this.leaseOnce(run);
        if (call) this.reconcile(run, call);
        if (this.fatal !== null) break;
        if (call && run.endMs !== null && (await this.allWritten(run))) {
          finished = true;
          break;
        }
        await this.sleepUntilWoken(this.leaseMs / 3);
      }
    } finally {
      await this.shutdown(run);
    }
    if (this.fatal !== null) throw this.fatal;
    if (finished) {
      this.reporter.line(
        `All ${run.shards} lanes are written up to ${new Date(run.endMs!).toISOString()}; this producer wrote ${this.written.toLocaleString('en-US')} readings.`,
      );
    }
  }

  /** One lease call; null when Redis refused for a while (said, and tried again next period). */
  private async leaseOnce(run: Registry): Promise<LeaseCall | null> {
    try {
      const call = await this.lanes.lease(run.runId, this.producerId, this.leaseMs);
      this.transient.succeeded();
      return call;
    } catch (error) {
      const transient = transientCause(error);
      if (transient) {
        this.heartbeat.blocked(transient.reason);
        this.transient.refused(transient);
        return null;
      }
      throw await this.runLost(run, error);
    }
  }

  /** Starts loops for lanes newly held, stops those no longer held (lost, or given back). */
  private reconcile(run: Registry, call: LeaseCall): void {
    const held = new Map(call.held.map(({ lane, token }) => [lane, token]));
    for (const [index, job] of this.jobs) {
      if (held.get(index) === job.token) continue;
      if (!call.released.includes(index)) this.lose(job);
      else this.retire(job);
    }
    for (const [index, token] of held) {
      if (!this.jobs.has(index)) this.startLane(run, run.lanes[index], token);
    }
    this.metrics.lanesHeld.set(this.jobs.size);
    const tags = [...this.jobs.keys()].sort((a, b) => a - b).map((i) => run.lanes[i].tag);
    const line =
      tags.length === 0
        ? `Holding no lane (0 of ${run.shards}, ${call.live} producers); standing by.`
        : `Holding lanes ${tags.join(', ')} (${tags.length} of ${run.shards}).`;
    if (line !== this.heldLine) this.reporter.line(line);
    this.heldLine = line;
    // Standing by on purpose is healthy; lanes being written beat themselves.
    if (this.jobs.size === 0) this.heartbeat.beat();
  }

  /** Another producer has the lane now (our lease lapsed): say so once, stop writing it. */
  private lose(job: LaneJob): void {
    if (job.lost || job.abort.signal.aborted) return;
    job.lost = true;
    this.metrics.leaseLost.inc();
    this.reporter.line(
      `Lane ${job.lane.tag} passed to another producer (lease lapsed); taking lanes again.`,
    );
    this.retire(job);
    this.confirmer?.forget(job.lane);
    this.wakeUp.abort();
  }

  private retire(job: LaneJob): void {
    job.abort.abort();
    if (this.jobs.get(job.lane.index) === job) this.jobs.delete(job.lane.index);
    this.blocked.delete(job.lane.index);
    this.metrics.watermark.remove({ lane: job.lane.tag });
    this.metrics.lanesHeld.set(this.jobs.size);
  }

  private startLane(run: Registry, lane: Lane, token: string): void {
    const job: LaneJob = {
      lane,
      token,
      abort: new AbortController(),
      done: Promise.resolve(),
      lost: false,
    };
    this.jobs.set(lane.index, job);
    job.done = this.runLane(run, job).catch((error: unknown) => {
      if (job.abort.signal.aborted || this.stopping.signal.aborted) return;
      this.fatal ??= error;
      this.wakeUp.abort();
    });
  }

  /** Takes the lane's state with the job's token, then writes the lane until done, lost or stopped. */
  private async runLane(run: Registry, job: LaneJob): Promise<void> {
    const { lane } = job;
    let state: LaneState | null = null;
    while (state === null) {
      try {
        state = await this.throughTransient(async () => {
          const claimed = await this.lanes.claimLane(
            run,
            lane,
            job.token,
            ReadingGenerator.seeded(laneSeed(run.seed, lane.index), lane.devices).state(),
            this.producerId,
            this.confirmer !== null,
            () => this.lanePartitions(run, lane.tag),
          );
          return claimed.state;
        }, job.abort.signal);
      } catch (error) {
        if (error instanceof FencedError) return this.lose(job);
        if (!(error instanceof ForeignDataError)) throw await this.runLost(run, error);
        // Someone else's key where the lane starts, as on the write path: a bounded run says so
        // and ends; a following producer keeps the lane and tries every second (unhealthy).
        if (run.endMs !== null) throw new BlockedPartitionError(error.detail);
        this.block(lane.index, error.detail);
        await this.pause(1_000, job.abort.signal);
        if (this.isStopped(job)) return;
      }
    }
    // Readings from here on are unconfirmed until a WAIT vouches for them.
    const { confirmer } = this;
    if (confirmer) {
      const from = state.watermarkMs;
      await this.throughTransient(() => confirmer.started(lane, job.token, from), job.abort.signal);
    }
    for (;;) {
      if (this.isStopped(job)) return;
      try {
        await this.writeLane(run, job, state);
        // A bounded lane written to its end: look at once whether the whole run is.
        if (!this.isStopped(job)) this.wakeUp.abort();
        return;
      } catch (error) {
        if (this.isStopped(job)) return;
        if (error instanceof FencedError) return this.lose(job);
        const next = await this.recoverLane(run, job, error);
        if (next === null) return;
        state = next;
      }
    }
  }

  private isStopped(job: LaneJob): boolean {
    return job.abort.signal.aborted || this.stopping.signal.aborted;
  }

  /** The lane's partitions of the run (deleted when the lane starts afresh). */
  private async lanePartitions(run: RunParams, tag: string): Promise<string[]> {
    if (run.endMs !== null) return partitionKeysBetween(run.startMs, run.endMs, tag);
    return this.lanes.lanePartitionsFrom(tag, startOfDay(run.startMs));
  }

  /**
   * After a refused lane batch: by the error's type, end (a typed error for the process), wait, or
   * go on; returns the lane's state as Redis holds it, or null when the lane is not ours any more.
   */
  private async recoverLane(
    run: Registry,
    job: LaneJob,
    error: unknown,
  ): Promise<LaneState | null> {
    const { lane } = job;
    const transient = transientCause(error);
    if (transient) {
      this.block(lane.index, transient.reason, false);
      await this.pause(this.transient.refused(transient), job.abort.signal);
    } else if (error instanceof ForeignDataError) {
      if (run.endMs !== null) throw new BlockedPartitionError(error.detail);
      this.block(lane.index, error.detail);
      await this.pause(1_000, job.abort.signal);
    } else if (error instanceof RedisOutOfMemoryError) {
      const full = await this.describeFull();
      if (run.endMs !== null) throw new RedisFullError(full);
      this.block(lane.index, full);
      await this.pause(1_000, job.abort.signal);
    } else if (!(error instanceof StaleStateError)) {
      // StateGoneError, anything unknown: never written back from memory.
      throw await this.runLost(run, error);
    }
    // A StaleStateError with the run still ours: this process's own batch applied before a
    // connection dropped and sent again. Redis holds the truth: go on from the saved position.
    if (this.isStopped(job)) return null;
    const saved = await this.throughTransient(
      () => this.lanes.loadLaneState(lane),
      job.abort.signal,
    );
    if (!saved || saved.runId !== run.runId) {
      throw await this.runLost(run, error);
    }
    if (String(saved.fence) !== job.token) {
      this.lose(job);
      return null;
    }
    return saved;
  }

  private block(lane: number, reason: string, log = true): void {
    this.blocked.add(lane);
    this.heartbeat.blocked(reason);
    if (log) this.blockedLog.error(`Cannot write: ${reason}. Retrying every second.`, 'blocked');
  }

  /** The error to end with when the run may be gone: RunLostError when it is, else `error`. */
  private async runLost(run: Registry, error: unknown): Promise<unknown> {
    if (!(error instanceof StateGoneError || error instanceof StaleStateError)) return error;
    const current = await this.lanes.registryRunId().catch(() => run.runId);
    if (current === null) {
      return new RunLostError(
        `${LaneRegistryHash.KEY} disappeared from Redis while the producer ran (deleted, or evicted under an allkeys-* maxmemory-policy); start the producer again to begin a new run.`,
      );
    }
    if (current !== run.runId) {
      return new RunLostError(
        `${LaneRegistryHash.KEY} now holds run ${current}, not this producer run ${run.runId}: another producer started a new run, so this one stops.`,
      );
    }
    if (error instanceof StateGoneError) {
      return new RunLostError(
        `${error.detail} (deleted, or evicted under an allkeys-* maxmemory-policy); start the producer again to begin a new run.`,
      );
    }
    return error;
  }

  /** Writes the lane from `state` on, one batch ahead of the applied one (`writeAhead`). */
  private async writeLane(run: Registry, job: LaneJob, state: LaneState): Promise<void> {
    const { lane } = job;
    let partition = '';
    this.metrics.watermark.set({ lane: lane.tag }, state.watermarkMs / 1000);
    await writeAhead({
      plan: { ...run, devices: lane.devices },
      fromMs: state.watermarkMs,
      generator: ReadingGenerator.fromState(state.generator),
      now: () => this.clock.now(),
      partitionFor: (firstMs) => {
        const key = partitionKeyFor(firstMs, lane.tag);
        if (key !== partition) {
          partition = key;
          this.reporter.line(`Populating stream partition ${key}.`);
        }
        return key;
      },
      send: (batch) => this.lanes.writeLaneBatch(run, lane, job.token, this.producerId, batch),
      applied: (readings, watermarkMs) => {
        this.blocked.delete(lane.index);
        if (this.blocked.size === 0) this.heartbeat.beat();
        this.transient.succeeded();
        this.written += readings;
        this.metrics.readingsProduced.inc(readings);
        this.metrics.batchesWritten.inc();
        this.confirmer?.written(lane, job.token, watermarkMs);
        if (!job.abort.signal.aborted) {
          this.metrics.watermark.set({ lane: lane.tag }, watermarkMs / 1000);
        }
      },
      idle: async (dueMs, caughtUp) => {
        if (caughtUp && this.blocked.size === 0) this.heartbeat.beat();
        await this.pause(Math.max(MIN_PACED_WAIT_MS, Math.min(dueMs, 1_000)), job.abort.signal);
      },
      stopped: () => this.isStopped(job),
    });
  }

  /** Whether every lane of a bounded run has reached its end (by the lanes' saved watermarks). */
  private async allWritten(run: Registry): Promise<boolean> {
    const marks = await this.lanes.laneWatermarks(run.lanes).catch(() => null);
    return (
      marks !== null &&
      marks.every(({ runId, ms }) => runId === run.runId && ms !== null && ms >= run.endMs!)
    );
  }

  /** Stops every lane loop after its batch in flight, then gives the lanes back at once. */
  private async shutdown(run: Registry): Promise<void> {
    const jobs = [...this.jobs.values()];
    jobs.forEach((job) => this.retire(job));
    await Promise.all(jobs.map((job) => job.done));
    // The last batches confirmed while the lanes are still ours, so the aggregator can read them.
    await this.confirmer?.close();
    if (this.fatal instanceof RunLostError) return;
    // Given back now, the lanes go to the others at their next call rather than after the lease.
    await this.lanes.lease(run.runId, this.producerId, this.leaseMs, true).catch(() => undefined);
    this.metrics.lanesHeld.set(0);
  }

  // ---- starting or joining the run ----

  private async prepareRun(): Promise<Registry | null> {
    if (this.config.resume) {
      const saved = await this.lanes.loadRegistry();
      if (saved) return this.join(saved);
      this.reporter.line('No run to resume; starting a new one.');
      const fresh = this.newRun();
      await this.refuseForeign(await this.runPartitions(fresh, []));
      if (await this.lanes.createRun(fresh, fresh.shards, false)) return fresh;
      // Another producer started at the same moment created it: join that one.
      const created = await this.lanes.loadRegistry();
      if (!created)
        throw new RunLostError(
          `${LaneRegistryHash.KEY} disappeared as it was created; start the producer again.`,
        );
      return this.join(created);
    }
    const fresh = this.newRun();
    const oldTags = await this.lanes.registryTags();
    const partitions = await this.runPartitions(fresh, oldTags);
    await this.refuseForeign(partitions);
    this.reporter.line('Deleting old streams:');
    partitions.forEach((key) => this.reporter.line(key));
    const tags = [...new Set([...fresh.lanes.map((lane) => lane.tag), ...oldTags])];
    await this.lanes.clearLanes(
      tags.map((tag) => ({
        tag,
        partitions: partitions.filter((key) => key.endsWith(`:{${tag}}`)),
      })),
    );
    await this.lanes.createRun(fresh, fresh.shards, true);
    return fresh;
  }

  /** Joins `saved` if the options agree with it; null when there is nothing left to write. */
  private async join(saved: Registry): Promise<Registry | null> {
    this.checkResumable(saved);
    if (saved.endMs !== null && (await this.allWritten(saved))) {
      this.reporter.line('The last run is already complete; nothing to resume.');
      return null;
    }
    this.reporter.line(`Joining run ${saved.runId} (${saved.shards} lanes).`);
    return saved;
  }

  private newRun(): Registry {
    const { config } = this;
    const shards = config.shards!;
    if (shards > config.devices) {
      throw new ConfigError(
        `--shards (PRODUCER_SHARDS) must be at most the number of devices (${config.devices}): every lane carries at least one device.`,
      );
    }
    const now = this.clock.now();
    const startMs = config.start === 'now' ? Math.floor(now / 1000) * 1000 : config.start;
    const run: RunParams = {
      runId: randomUUID(),
      startMs,
      endMs: config.days === null ? null : startMs + config.days * DAY_MS,
      intervalMs: config.intervalMs,
      devices: config.devices,
      seed: config.seed ?? randomInt(0, 2 ** 32),
      rate: config.speed === 'max' ? 1 : config.speed,
      paced: config.speed !== 'max',
      realStartMs: now,
    };
    return {
      ...run,
      shards,
      lanes: laneLayout(shards, config.devices),
      leases: { members: {}, lanes: [], fenceSeq: 0 },
    };
  }

  /** The lane partitions a new run deletes: its days × lanes (SCANned from the start day for --follow). */
  private async runPartitions(run: Registry, oldTags: string[]): Promise<string[]> {
    const tags = [...new Set([...run.lanes.map((lane) => lane.tag), ...oldTags])];
    const keys = new Set<string>();
    for (const tag of tags) {
      if (run.endMs !== null && !oldTags.includes(tag)) {
        partitionKeysBetween(run.startMs, run.endMs, tag).forEach((key) => keys.add(key));
      } else {
        const scanned = await this.lanes.lanePartitionsFrom(tag, startOfDay(run.startMs));
        scanned.forEach((key) => keys.add(key));
        if (run.endMs !== null) {
          partitionKeysBetween(run.startMs, run.endMs, tag).forEach((key) => keys.add(key));
        }
      }
    }
    return [...keys].sort();
  }

  private async refuseForeign(keys: string[]): Promise<void> {
    const foreign = await this.repository.foreignKeys(keys);
    if (foreign.length > 0) {
      throw new BlockedPartitionError(
        `${foreign.map(({ key, type }) => `${key} is a ${type}`).join(', ')}, not a stream; the producer deletes and writes only streams there. Remove it or choose other days.`,
      );
    }
  }

  private checkResumable(saved: Registry): void {
    const { config } = this;
    const wanted: Record<RunOption, [unknown, unknown]> = {
      start: [config.start, saved.startMs],
      days: [config.days, saved.endMs === null ? null : (saved.endMs - saved.startMs) / DAY_MS],
      intervalMs: [config.intervalMs, saved.intervalMs],
      devices: [config.devices, saved.devices],
      seed: [config.seed, saved.seed],
      speed: [config.speed === 'max' ? 'max' : config.speed, saved.paced ? saved.rate : 'max'],
      shards: [config.shards, saved.shards],
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

  // ---- waiting ----

  private async throughTransient<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        const transient = transientCause(error);
        if (!transient || this.stopping.signal.aborted || signal?.aborted) throw error;
        this.heartbeat.blocked(transient.reason);
        await this.pause(this.transient.refused(transient), signal);
      }
    }
  }

  private async describeFull(): Promise<string> {
    const { usedBytes, maxBytes } = await this.repository
      .memory()
      .catch(() => ({ usedBytes: 0, maxBytes: 0 }));
    const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
    return `Redis is full (used_memory ${mb(usedBytes)}, maxmemory ${mb(maxBytes)}) and refused a batch of readings, writing none of it: raise maxmemory, or write fewer days or devices or a longer --interval-ms`;
  }

  private async sleepUntilWoken(ms: number): Promise<void> {
    if (this.wakeUp.signal.aborted && !this.stopping.signal.aborted) {
      this.wakeUp = new AbortController();
      return; // woken while busy: go round at once
    }
    await this.clock.sleep(ms, this.wakeUp.signal);
    if (!this.stopping.signal.aborted) this.wakeUp = new AbortController();
  }

  private async pause(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0) return;
    const signals = signal ? AbortSignal.any([this.stopping.signal, signal]) : this.stopping.signal;
    await this.clock.sleep(ms, signals);
  }
}
