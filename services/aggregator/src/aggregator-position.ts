import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { ExitRequest, SingleWriter } from '@temps/runtime';
import { AGGREGATOR_STATE_KEY, initialState, type AggregatorState } from '@temps/streams';
import { AGGREGATOR_CLOCK, AGGREGATOR_CONFIG } from './aggregator.constants';
import type { AggregatorConfig } from './aggregator-config';
import { AggregatorReporter } from './aggregator.reporter';
import { AggregatorRepository } from './aggregator.repository';

/** The saved state disappeared and there is no rule to begin again by: ends the aggregator. */
export class StateLostError extends Error {
  override name = 'StateLostError';
  readonly fatal = true;
}

/**
 * Who holds the aggregator's position, under the single-writer protocol: the state this process
 * resumed or committed and who saved it, where to begin (a partition, the saved state, the oldest
 * partition), and what to do when a commit is refused — go on from its own resent step, stand by
 * while another aggregator writes, begin again when the state is gone.
 */
@Injectable()
export class AggregatorPosition {
  private state: AggregatorState | null = null;
  /** Who saved the state this process holds (itself once it has committed). */
  private savedBy: string | null = null;
  private singleWriter: SingleWriter<AggregatorState>;

  constructor(
    @Inject(AGGREGATOR_CONFIG) private readonly config: AggregatorConfig,
    private readonly repository: AggregatorRepository,
    private readonly report: AggregatorReporter,
    @Optional() @Inject(AGGREGATOR_CLOCK) private readonly now: () => number = Date.now,
  ) {
    this.singleWriter = new SingleWriter({ now });
  }

  /** Resets to the partition given on the command line, or resumes the saved state. */
  async start(): Promise<void> {
    if (this.config.partition) {
      this.state = initialState(this.config.partition);
      await this.repository.reset(this.state);
      this.savedBy = this.repository.instanceId;
    } else {
      const loaded = await this.repository.loadWithWriter();
      [this.state, this.savedBy] = [loaded?.state ?? null, loaded?.writer ?? null];
      if (!this.state && this.config.fromOldest) this.state = await this.startFromOldest();
      if (!this.state) {
        throw new ExitRequest([
          'No stream key and last message ID found in Redis.',
          'Start the consumer with stream key parameter.',
        ]);
      }
    }
    this.report.started(this.state);
  }

  current(): AggregatorState {
    if (!this.state) throw new Error('The aggregator has not started.');
    return this.state;
  }

  /** Whether `saved` (as Redis holds it now) is the state this process holds. */
  holds(saved: {
    streamKey: string | null;
    lastId: string | null;
    writer: string | null;
  }): boolean {
    const { streamKey, lastId } = this.current();
    return (
      saved.streamKey === streamKey && saved.lastId === lastId && saved.writer === this.savedBy
    );
  }

  /** A step this process committed. */
  committed(to: AggregatorState): void {
    [this.state, this.savedBy] = [to, this.repository.instanceId];
  }

  /** Who saved the state this process holds (null: unknown, e.g. the exercise's own code). */
  get writer(): string | null {
    return this.savedBy;
  }

  get standingBy(): boolean {
    return this.singleWriter.standingBy;
  }

  /**
   * A step was refused: the saved state is not the one this process last committed. Redis holds
   * the truth: never write a position from memory over it. This very step was applied just before
   * a connection dropped and sent again (this process wrote it: go on from it); the state is gone;
   * or another aggregator (or a start over) wrote it: stand by.
   */
  async refused(): Promise<void> {
    const loaded = await this.repository.loadWithWriter();
    if (loaded === null) return this.gone();
    if (loaded.mine) {
      [this.state, this.savedBy] = [loaded.state, loaded.writer];
      return;
    }
    if (this.singleWriter.onRefused(loaded.state)) this.report.standingBy(loaded.state);
  }

  /** Standing by: take over once the state has not changed for SingleWriter.QUIET_MS. */
  async watchOther(): Promise<void> {
    const loaded = await this.repository.loadWithWriter();
    if (loaded === null) return this.gone();
    if (this.singleWriter.poll(loaded.state) === 'wait') return;
    [this.state, this.savedBy] = [loaded.state, loaded.writer];
    this.report.tookOver(loaded.state);
  }

  /** The saved state disappeared under this process: begin again as a first start would. */
  private async gone(): Promise<void> {
    this.singleWriter = new SingleWriter({ now: this.now }); // no longer standing by
    if (!this.config.fromOldest) {
      throw new StateLostError(
        `${AGGREGATOR_STATE_KEY} disappeared from Redis while the aggregator ran (deleted, or evicted under an allkeys-* maxmemory-policy); start it again with a partition name (or --from-oldest) to begin again.`,
      );
    }
    this.report.beginningAgain();
    this.state = await this.startFromOldest();
    if (!this.state) return this.gone();
    this.report.started(this.state);
  }

  /** A container's first start: begin at the oldest partition, waiting for the producer if need be. */
  private async startFromOldest(): Promise<AggregatorState | null> {
    for (let announced = false; ; announced = true) {
      const [oldest] = await this.repository.partitions();
      if (oldest) {
        const state = initialState(oldest);
        if (await this.repository.initialize(state)) {
          this.savedBy = this.repository.instanceId;
          return state;
        }
        const loaded = await this.repository.loadWithWriter();
        this.savedBy = loaded?.writer ?? null;
        return loaded?.state ?? null;
      }
      if (!announced) this.report.waitingForPartition();
      await sleep(1_000);
    }
  }
}
