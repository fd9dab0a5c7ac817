import { Logger } from '@nestjs/common';
import { Heartbeat } from '@temps/health';
import { ReplyError } from 'ioredis';
import { StaleStateError, StateGoneError, typedRedisError } from '@temps/redis';
import { ReadingGenerator } from '@temps/streams';
import { Registry } from 'prom-client';
import type { RunnerClock } from './producer.constants';
import type { ProducerConfig } from './producer-config';
import { ProducerMetrics } from './producer.metrics';
import type { Batch, Progress, ProducerRepository, SavedRun } from './producer.repository';
import { ProducerRunner, RunLostError } from './producer.runner';
import type { ProgressReporter } from './progress-reporter';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const HOUR_MS = 3_600_000;
const ME = 'this-process-0000-0000-000000000000' as const;

/** The producer's Redis state in memory, with write-batch's guard: the same refusals, typed. */
class FakeRepository implements Pick<
  ProducerRepository,
  | 'instanceId'
  | 'progress'
  | 'loadRun'
  | 'writeBatch'
  | 'memory'
  | 'partitionsFrom'
  | 'foreignKeys'
  | 'startRun'
> {
  readonly instanceId = ME;
  state: (SavedRun & { writtenBy: string }) | null = null;
  /** Batch starts written, in order. */
  readonly written: number[] = [];
  /** Runs before the next write's guard (once): another process acting meanwhile. */
  beforeWrite: (() => void) | null = null;
  /** Every write is refused with `reply` (typed, as the real repository raises it) until `untilMs`. */
  refuse: { reply: string; untilMs: number; now: () => number } | null = null;

  async progress(): Promise<Progress | null> {
    const { state } = this;
    if (!state) return null;
    return {
      runId: state.runId,
      watermarkMs: String(state.watermarkMs),
      mine: state.writtenBy === ME,
    };
  }
  async loadRun(): Promise<SavedRun | null> {
    if (!this.state) return null;
    const { writtenBy: _, ...run } = this.state;
    return structuredClone(run);
  }
  async writeBatch(run: SavedRun, batch: Batch): Promise<number> {
    const hook = this.beforeWrite;
    this.beforeWrite = null;
    hook?.();
    if (this.refuse && this.refuse.now() < this.refuse.untilMs) {
      throw typedRedisError(new ReplyError(this.refuse.reply));
    }
    const { state } = this;
    if (!state)
      throw new StateGoneError(
        'STATE_GONE producer_state disappeared from Redis while the producer ran',
      );
    if (state.runId !== run.runId || state.watermarkMs !== batch.firstMs) {
      throw new StaleStateError(`STALE_STATE producer_state moved on`);
    }
    this.written.push(batch.firstMs);
    Object.assign(state, {
      watermarkMs: batch.watermarkMs,
      generator: batch.generator,
      writtenBy: ME,
    });
    return batch.temps.length;
  }
  async memory() {
    return { usedBytes: 0, maxBytes: 0 };
  }
  async partitionsFrom(): Promise<string[]> {
    return [];
  }
  async foreignKeys(): Promise<{ key: string; type: string }[]> {
    return [];
  }
  async startRun(_partitions: string[], run: SavedRun): Promise<void> {
    this.state = { ...structuredClone(run), writtenBy: ME };
  }
}

/** Time that passes only when the runner waits. */
class FakeClock implements RunnerClock {
  ms = Date.UTC(2026, 0, 1);
  now(): number {
    return this.ms;
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
}

class Lines implements Pick<ProgressReporter, 'line' | 'start' | 'update' | 'stop'> {
  readonly lines: string[] = [];
  line(text: string): void {
    this.lines.push(text);
  }
  start(): void {}
  update(): void {}
  stop(): void {}
}

/** A three-hour run at 1 s readings, saved and resumable (immich's newTestService, in small). */
function newTestRunner() {
  const repository = new FakeRepository();
  const clock = new FakeClock();
  const reporter = new Lines();
  const config: ProducerConfig = {
    start: JAN_1_2025,
    days: null,
    intervalMs: 1_000,
    devices: 1,
    seed: 1,
    speed: 'max',
    resume: true,
    port: 0,
    redisUrl: 'redis://unused',
    explicit: new Set(),
  };
  const run: SavedRun = {
    runId: 'run-1',
    startMs: JAN_1_2025,
    endMs: JAN_1_2025 + 3 * HOUR_MS,
    intervalMs: 1_000,
    devices: 1,
    seed: 1,
    rate: 1,
    paced: false,
    realStartMs: clock.ms,
    watermarkMs: JAN_1_2025,
    generator: ReadingGenerator.seeded(1, 1).state(),
  };
  repository.state = { ...run, writtenBy: ME };
  const runner = new ProducerRunner(
    config,
    repository as unknown as ProducerRepository,
    new ProducerMetrics(new Registry()),
    new Heartbeat(),
    reporter as unknown as ProgressReporter,
    clock,
  );
  return { runner, repository, clock, reporter, run };
}

describe('ProducerRunner decisions (fake repository, fake clock)', () => {
  let warnings: string[];
  beforeEach(() => {
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
  });
  afterEach(() => jest.restoreAllMocks());

  it('resumes at the saved watermark and writes the run to its end, each batch where the last ended', async () => {
    const { runner, repository } = newTestRunner();
    await runner.run();
    expect(repository.written).toEqual([JAN_1_2025, JAN_1_2025 + 2 * HOUR_MS]);
    expect(repository.state?.watermarkMs).toBe(JAN_1_2025 + 3 * HOUR_MS);
  });

  it('its state gone: stops with one line, writing nothing back', async () => {
    const { runner, repository } = newTestRunner();
    repository.beforeWrite = () => (repository.state = null);
    await expect(runner.run()).rejects.toThrow(
      new RunLostError(
        'producer_state disappeared from Redis while the producer ran (deleted, or evicted under an allkeys-* maxmemory-policy); start the producer again to begin a new run.',
      ),
    );
    expect(repository.state).toBeNull();
  });

  it('a stale refusal because a new run replaced its own: stops, naming both runs', async () => {
    const { runner, repository } = newTestRunner();
    repository.beforeWrite = () => (repository.state = { ...repository.state!, runId: 'run-2' });
    await expect(runner.run()).rejects.toThrow(
      'producer_state now holds run run-2, not this producer run run-1: another producer started a new run, so this one stops.',
    );
    expect(repository.written).toEqual([]);
  });

  it('a stale refusal from its own batch applied already (a resend): goes on without waiting', async () => {
    const { runner, repository, clock } = newTestRunner();
    const started = clock.ms;
    repository.beforeWrite = () =>
      Object.assign(repository.state!, { watermarkMs: JAN_1_2025 + 2 * HOUR_MS, writtenBy: ME });
    await runner.run();
    expect(repository.written).toEqual([JAN_1_2025 + 2 * HOUR_MS]);
    expect(clock.ms - started).toBeLessThan(1_000);
    expect(warnings).toEqual([]);
  });

  it('another producer writing the same run: says so once, stands by until its state is quiet for 10 s, then takes over from there', async () => {
    const { runner, repository, clock } = newTestRunner();
    const started = clock.ms;
    let otherWrites = 3;
    repository.beforeWrite = () =>
      Object.assign(repository.state!, { watermarkMs: JAN_1_2025 + HOUR_MS, writtenBy: 'other' });
    // The other producer writes a few more times while this one stands by, then stops.
    const progress = repository.progress.bind(repository);
    repository.progress = async () => {
      if (otherWrites-- > 0) repository.state!.watermarkMs += 1_000;
      return progress();
    };
    await runner.run();
    expect(
      warnings.filter((w) => w.startsWith('Another producer is writing this run')),
    ).toHaveLength(1);
    expect(warnings).toContain('producer_state has not changed for 10 s; continuing the run.');
    // The other saves when refused and at the first two polls (1 s, 2 s): quiet from 2 s to 12 s.
    expect(clock.ms - started).toBe(12_000);
    expect(repository.written[0]).toBe(JAN_1_2025 + HOUR_MS + 3_000);
    expect(repository.state?.watermarkMs).toBe(JAN_1_2025 + 3 * HOUR_MS);
  });

  it.each([
    [
      'MISCONF',
      'MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk. Commands that may modify the data set are disabled.',
    ],
    [
      'BUSY',
      'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
    ],
    ['READONLY', "READONLY You can't write against a read only replica."],
    ['LOADING', 'LOADING Redis is loading the dataset in memory'],
  ])(
    'a refusal that clears by itself (%s): unhealthy with the reason, one line, back-off 1 s doubling, then on from Redis without a gap or a repeat',
    async (code, reply) => {
      const { runner, repository, clock } = newTestRunner();
      const heartbeat = (runner as unknown as { heartbeat: Heartbeat }).heartbeat;
      const reasons: (string | null)[] = [];
      const load = repository.loadRun.bind(repository);
      repository.loadRun = async () => {
        reasons.push(heartbeat.blockedBy());
        return load();
      };
      const started = clock.ms;
      repository.refuse = { reply, untilMs: started + 5_000, now: () => clock.now() };
      await runner.run();
      // Refused for 5 s: waited 1 + 2 + 4 s, unhealthy with the reason meanwhile, said so once.
      expect(clock.ms - started).toBe(7_000);
      expect(reasons[0]).toBeNull(); // resuming, before the first batch
      expect(reasons[1]).toContain(`(${code} `);
      expect(warnings.filter((w) => w.includes(`(${code} `))).toHaveLength(1);
      expect(heartbeat.blockedBy()).toBeNull();
      // The refused batches wrote nothing; the run is written to its end exactly once.
      expect(repository.written).toEqual([JAN_1_2025, JAN_1_2025 + 2 * HOUR_MS]);
      expect(repository.state?.watermarkMs).toBe(JAN_1_2025 + 3 * HOUR_MS);
    },
  );

  it('a refusal that does not clear by itself (ERR, NOPERM) still ends the run', async () => {
    const { runner, repository } = newTestRunner();
    repository.refuse = {
      reply: "NOPERM this user has no permissions to run the 'evalsha' command",
      untilMs: Infinity,
      now: () => 0,
    };
    await expect(runner.run()).rejects.toThrow('NOPERM');
  });
});
