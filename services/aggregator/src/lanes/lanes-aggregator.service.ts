import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { DependencyChecks } from '@temps/health';
import {
  StaleStateError,
  StateGoneError,
  type StreamCursor,
  type StreamCursorSource,
} from '@temps/redis';
import { ExitRequest, SingleWriter } from '@temps/runtime';
import {
  LaneStateHash,
  LanesAggregatorStateHash,
  afterLaneStep,
  compareEntryIds,
  initialState,
  laneFrontier,
  nextPartitionKey,
  partitionDayStart,
  partitionKeyFor,
  partitionTag,
  startOfDay,
  watermarkPassed,
  whenDrained,
  type AggregatorState,
  type FoldStep,
  type HourlyAverage,
  type LanesState,
  type LostRange,
} from '@temps/streams';
import { StateLostError } from '../aggregator-position';
import { AGGREGATOR_CLOCK, AGGREGATOR_CONFIG } from '../aggregator.constants';
import type { AggregatorConfig } from '../aggregator-config';
import { AggregatorReporter } from '../aggregator.reporter';
import { AggregatorRepository, FOLD_BOUND } from '../aggregator.repository';
import { TURN_BUDGET_MS } from '../aggregator.service';
import { LEFT_CHECK_EVERY_MS, earlyInNext, foldBacklog, lateInLeft } from '../partition-turn';
import { LanesRepository, type LanesRun, type SavedLanes } from './lanes.repository';
import { WatermarkStall } from './watermark-stall';

const KEY = LanesAggregatorStateHash.KEY;

/** The saved state is not the one this process holds (seen on an idle turn). */
class StateChangedError extends Error {
  override name = 'StateChangedError';
}

/**
 * The aggregating consumer over lanes (PRODUCER_SHARDS): each lane is aggregated by the
 * one-partition step machine against its own watermark, and the hours every lane has settled are
 * merged into one average each (`afterLaneStep`), so an hour closes when the minimum over the lanes'
 * watermarks has passed it. Every step commits the merged averages, the lane's cursor and every
 * lane's pending hours in one atomic script, under the single-writer protocol (a commit count and
 * the writer's id). A lane that holds the watermark back is named, measured
 * (`temps_aggregator_lane_lag_seconds`) and, past AGGREGATOR_LANE_STALL_MS, makes /health 503.
 */
@Injectable()
export class LanesAggregatorService implements StreamCursorSource {
  private run: LanesRun | null = null;
  private state: LanesState | null = null;
  /** The commit count of the state this process holds, and who saved it. */
  private step = 0;
  private savedBy: string | null = null;
  private singleWriter: SingleWriter<number>;
  /** Lanes whose last fold stopped at readings ahead of their watermark (not watched by XREAD). */
  private holding: boolean[] = [];
  private lastLeftCheck = 0;
  private stall: WatermarkStall | null = null;
  private stalled: string | null = null;

  constructor(
    @Inject(AGGREGATOR_CONFIG) private readonly config: AggregatorConfig,
    private readonly lanes: LanesRepository,
    private readonly repository: AggregatorRepository,
    private readonly report: AggregatorReporter,
    private readonly checks: DependencyChecks,
    @Optional() @Inject(AGGREGATOR_CLOCK) private readonly now: () => number = Date.now,
  ) {
    this.singleWriter = new SingleWriter({ now });
  }

  private get id(): string {
    return this.repository.instanceId;
  }

  /** Waits for the producers' run, then resets to the day given, resumes, or begins at its start. */
  async start(): Promise<void> {
    const run = await this.waitForRun();
    this.run = run;
    this.stall = new WatermarkStall(run.startMs);
    this.holding = run.tags.map(() => false);
    this.checks.register('lanes', () => {
      if (this.stalled) throw new Error(this.stalled);
    });
    if (this.config.partition) {
      const state = this.initial(partitionDayStart(this.config.partition)!);
      await this.lanes.reset(state, this.id);
      this.adopt({ state, step: 0, writer: this.id });
    } else {
      const loaded = (await this.lanes.load(run.shards)) ?? (await this.begin());
      if (!loaded) {
        throw new ExitRequest([
          'No stream key and last message ID found in Redis.',
          'Start the consumer with stream key parameter.',
        ]);
      }
      this.adopt(loaded);
    }
    this.report.startedLanes(this.state!.lanes);
  }

  cursor(): Promise<StreamCursor> | StreamCursor {
    if (this.singleWriter.standingBy || !this.state) return [];
    const watched = this.state.lanes
      .filter((_, lane) => !this.holding[lane])
      .map((lane): [string, string] => [lane.streamKey, lane.lastId]);
    return this.repository
      .readable(watched.map(([key]) => key))
      .then((readable) => watched.filter((_, i) => readable[i]));
  }

  /** A read woke the aggregator (or its blocking read timed out): one turn over every lane. */
  async handle(): Promise<void> {
    if (this.singleWriter.standingBy) return this.watchOther();
    try {
      const marks = await this.watchWatermarks();
      // Listed once a turn for every lane (one SCAN per master and pass, not one per lane), and
      // after the watermarks: nothing a watermark vouches for is missed by the listing.
      let listed: Promise<string[]> | null = null;
      const partitions = (tag: string) =>
        (listed ??= this.repository.partitions('*')).then((keys) =>
          keys.filter((key) => partitionTag(key) === tag),
        );
      const deadline = this.now() + TURN_BUDGET_MS;
      let idle = true;
      for (let lane = 0; lane < this.state!.lanes.length; lane++) {
        if (!(await this.turn(lane, deadline, marks[lane], partitions))) idle = false;
      }
      // Said once per wait, naming the lane that holds the hours back.
      if (idle) this.report.idle(this.slowest().streamKey);
    } catch (error) {
      const refused =
        error instanceof StateChangedError ||
        error instanceof StaleStateError ||
        error instanceof StateGoneError;
      if (!refused) throw error;
      await this.refused();
    }
  }

  /** Lane lags and a lane holding every hour back: metrics, one throttled line, /health. */
  private async watchWatermarks(): Promise<(number | null)[]> {
    const { tags } = this.run!;
    const marks = await this.lanes.watermarks(tags);
    const seen = this.stall!.observe(marks, this.now());
    const { lags, slowest, stalledForMs } = seen;
    this.report.lanes(tags, lags, slowest, stalledForMs, this.config.laneStallMs);
    this.stalled =
      slowest !== null && stalledForMs >= this.config.laneStallMs
        ? `lane ${tags[slowest]} has held the watermark back for ${Math.round(stalledForMs / 1000)} s (${lags[slowest]} simulated s behind the newest lane): no producer is writing it`
        : null;
    return marks;
  }

  /** The lane with the earliest frontier: the one every later hour waits for. */
  private slowest(): AggregatorState {
    const lanes = this.state!.lanes;
    return lanes.reduce((a, b) => (laneFrontier(b) < laneFrontier(a) ? b : a));
  }

  /**
   * One lane's turn: fold its partition in order while it has a backlog (commits pipelined, as for
   * one partition a day), then, drained, as `whenDrained` decides. Resolves to whether the lane
   * was idle (nothing read, nothing committed).
   */
  private async turn(
    lane: number,
    deadline: number,
    /** The lane's readable mark at the turn's start, read before the partitions were listed. */
    markedMs: number | null,
    partitions: (tag: string) => Promise<string[]>,
  ): Promise<boolean> {
    const watermarkKey = LaneStateHash.keyOf(this.run!.tags[lane]);
    let all = this.state!;
    let [step, writer] = [this.step, this.savedBy];
    const { last, watermarkMs, commits } = await foldBacklog({
      from: all.lanes[lane],
      source: (from, range) => this.repository.fold(from, range, FOLD_BOUND, watermarkKey),
      deadline,
      now: this.now,
      onStep: (fold) => (this.holding[lane] = fold.outcome === 'holding'),
      commit: (fold) => {
        const next = afterLaneStep(all, lane, fold.to, fold.closed, fold.lost);
        const done = this.commitInOrder(all, next.state, lane, next.published, step, writer, fold);
        [all, step, writer] = [next.state, step + 1, this.id];
        return done;
      },
    });
    const folding = last?.outcome === 'folding';
    if (!folding && (commits === 0 || watermarkPassed(all.lanes[lane], watermarkMs))) {
      return (await this.drained(lane, markedMs, partitions)) && commits === 0;
    }
    return false;
  }

  private commitInOrder(
    from: LanesState,
    to: LanesState,
    lane: number,
    published: readonly HourlyAverage[],
    step: number,
    writer: string | null,
    fold: FoldStep,
  ): Promise<void> {
    const done = this.lanes
      .commit(from, to, lane, published, step, writer, this.id)
      .then((added) => {
        this.adopt({ state: to, step: step + 1, writer: this.id });
        this.report.committed(from.lanes[lane], to.lanes[lane], published, added, null);
        this.report.folded(fold, from.lanes[lane].streamKey);
      });
    return done;
  }

  /**
   * DRAINED, for one lane: close its open hour by its watermark, move it to its next day, or wait.
   * Resolves to whether it only waits.
   */
  private async drained(
    lane: number,
    watermarkMs: number | null,
    partitions: (tag: string) => Promise<string[]>,
  ): Promise<boolean> {
    const tag = this.run!.tags[lane];
    const from = this.state!.lanes[lane];
    // `watermarkMs` was read before the partitions were listed (see the one-lane service): nothing
    // it vouches for is missed by the listing.
    const existing = await partitions(tag);
    const { exists, lastId, saved } = await this.lanes.progress(from.streamKey, tag);
    if (saved.step !== String(this.step) || saved.writer !== this.savedBy) {
      throw new StateChangedError();
    }
    if (lastId !== null && compareEntryIds(lastId, from.lastId) > 0) return false;
    const step = whenDrained(from, { watermarkMs, currentExists: exists, existing });
    if (step.kind !== 'wait') {
      await this.commitLane(lane, step.to, step.closed, step.lost);
      if (step.kind === 'move') this.report.moved(step.to.streamKey, step.skipped);
      return false;
    }
    if (watermarkMs !== null) this.report.lag(from, watermarkMs);
    const next = nextPartitionKey(from.streamKey);
    if (next && existing.includes(next) && (await this.countEarlyIn(lane, next))) return false;
    return !(await this.countLateInLeft(lane, existing));
  }

  /** The lane's next day has entries while this one is not finished: count the new early ones once. */
  private async countEarlyIn(lane: number, next: string): Promise<boolean> {
    const watermarkKey = LaneStateHash.keyOf(this.run!.tags[lane]);
    const early = await earlyInNext(this.state!.lanes[lane], next, (ahead) =>
      this.repository.fold(
        ahead,
        { start: { afterId: '0' }, untilMs: null },
        FOLD_BOUND,
        watermarkKey,
      ),
    );
    if (!early) return false;
    await this.commitLane(lane, early.to, []);
    this.report.early(next, early.firstId, early.count);
    return true;
  }

  /** Entries written into the lane's partitions already left: counted `late` once (as with one lane). */
  private async countLateInLeft(lane: number, existing: string[]): Promise<boolean> {
    if (this.now() - this.lastLeftCheck < LEFT_CHECK_EVERY_MS) return false;
    if (lane === this.state!.lanes.length - 1) this.lastLeftCheck = this.now();
    const found = await lateInLeft(this.state!.lanes[lane], existing, this.repository, FOLD_BOUND);
    if (!found) return false;
    await this.commitLane(lane, found.to, []);
    this.report.lateInLeft(found.late);
    this.lastLeftCheck = 0; // more may be waiting
    return true;
  }

  /** Commits lane `lane`'s step (and whatever it lets every lane publish) and takes it as held. */
  private async commitLane(
    lane: number,
    to: AggregatorState,
    closed: readonly HourlyAverage[],
    lost: readonly LostRange[] = [],
  ): Promise<void> {
    const from = this.state!;
    const next = afterLaneStep(from, lane, to, closed, lost);
    const added = await this.lanes.commit(
      from,
      next.state,
      lane,
      next.published,
      this.step,
      this.savedBy,
      this.id,
    );
    this.adopt({ state: next.state, step: this.step + 1, writer: this.id });
    this.report.committed(from.lanes[lane], to, next.published, added, null);
  }

  private adopt(saved: SavedLanes): void {
    [this.state, this.step, this.savedBy] = [saved.state, saved.step, saved.writer];
  }

  /**
   * A step was refused: Redis holds the truth. Applied already by this process (go on from it), the
   * state gone (begin again, or end), or another aggregator writing (stand by).
   */
  private async refused(): Promise<void> {
    const loaded = await this.lanes.load(this.run!.shards);
    if (loaded === null) return this.gone();
    if (loaded.writer === this.id) return this.adopt(loaded);
    if (this.singleWriter.onRefused(loaded.step))
      this.report.standingBy(loaded.state.lanes[0], KEY);
  }

  /** Standing by: take over once the state has not changed for SingleWriter.QUIET_MS. */
  private async watchOther(): Promise<void> {
    const loaded = await this.lanes.load(this.run!.shards);
    if (loaded === null) return this.gone();
    if (this.singleWriter.poll(loaded.step) === 'wait') return;
    this.adopt(loaded);
    this.report.tookOver(loaded.state.lanes[0], KEY);
  }

  private async gone(): Promise<void> {
    this.singleWriter = new SingleWriter({ now: this.now });
    if (!this.config.fromOldest) {
      throw new StateLostError(
        `${KEY} disappeared from Redis while the aggregator ran (deleted, or evicted under an allkeys-* maxmemory-policy); start it again with a partition name (or --from-oldest) to begin again.`,
      );
    }
    this.report.beginningAgain(KEY);
    const loaded = await this.begin();
    if (!loaded) return this.gone();
    this.adopt(loaded);
    this.report.startedLanes(loaded.state.lanes);
  }

  /** Without saved state and with --from-oldest: every lane at the run's first day (one start wins). */
  private async begin(): Promise<SavedLanes | null> {
    if (!this.config.fromOldest) return null;
    const state = this.initial(startOfDay(this.run!.startMs));
    if (await this.lanes.initialize(state, this.id)) return { state, step: 0, writer: this.id };
    return this.lanes.load(this.run!.shards);
  }

  private initial(dayMs: number): LanesState {
    const { tags } = this.run!;
    return {
      lanes: tags.map((tag) => initialState(partitionKeyFor(dayMs, tag))),
      pending: tags.map(() => []),
      lost: tags.map(() => []),
      publishedUntilMs: 0,
    };
  }

  /**
   * The producers' run from the registry, waiting for the first producer if need be. ExitRequest when
   * its lane count is not PRODUCER_SHARDS (S is fixed for a run).
   */
  private async waitForRun(): Promise<LanesRun> {
    for (let announced = false; ; announced = true) {
      const run = await this.lanes.run();
      if (run) {
        if (run.shards !== this.config.shards) {
          throw new ExitRequest([
            `PRODUCER_SHARDS is ${this.config.shards}, but the producers' run has ${run.shards} lanes; start the aggregator with PRODUCER_SHARDS=${run.shards}.`,
          ]);
        }
        return run;
      }
      if (!announced) this.report.waitingForRun();
      await sleep(1_000);
    }
  }
}
