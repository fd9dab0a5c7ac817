import { Inject, Injectable } from '@nestjs/common';
import {
  HSET_IF_ABSENT,
  defineScripts,
  withTypedErrors,
  REDIS_CLIENT,
  type RedisClient,
} from '@temps/redis';
import {
  AVERAGES_STREAM,
  LANES_AVERAGES_READER_STATE_KEY,
  LaneRegistryHash,
  LaneStateHash,
  LanesAggregatorStateHash,
  averageEntryId,
  averageFields,
  type HourlyAverage,
  type LanesState,
} from '@temps/streams';
import { AVERAGES_MAXLEN } from '../aggregator.repository';
import { COMMIT_LANES, COMMIT_LANES_GUARD } from '../scripts/commit-lanes.lua';
import { LANE_PROGRESS } from '../scripts/lane-progress.lua';

const KEY = LanesAggregatorStateHash.KEY;
const F = LanesAggregatorStateHash.FIELDS;
const { laneField } = LanesAggregatorStateHash;

/** The lanes run as the registry holds it: what the aggregator needs of it. */
export interface LanesRun {
  runId: string;
  shards: number;
  /** Unix ms of the run's first reading. */
  startMs: number;
  /** Each lane's tag, lane by lane. */
  tags: string[];
}

/** The saved lanes state, its commit count and who committed it last. */
export interface SavedLanes {
  state: LanesState;
  step: number;
  writer: string | null;
}

/**
 * The lanes aggregator's own Redis access: the producers' registry, its state hash
 * (`aggregating_consumer_state{temps:averages}`) and each lane's watermark. Folds, partitions and
 * late entries go through AggregatorRepository, as for one partition a day.
 */
@Injectable()
export class LanesRepository {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    defineScripts(redis, COMMIT_LANES, HSET_IF_ABSENT, LANE_PROGRESS);
  }

  /**
   * The run in the registry (null: no producer has started one); CorruptStateError (from
   * LaneRegistryHash, which owns the hash) when it is not a run of `laneLayout(shards, devices)`.
   */
  async run(): Promise<LanesRun | null> {
    const hash = await this.redis.hgetall(LaneRegistryHash.KEY);
    if (Object.keys(hash).length === 0) return null;
    const registry = LaneRegistryHash.parse(hash);
    return {
      runId: registry.runId,
      shards: registry.shards,
      startMs: registry.startMs,
      tags: registry.lanes.map((lane) => lane.tag),
    };
  }

  /** The saved state of `shards` lanes (null: none); CorruptStateError when it cannot be one. */
  async load(shards: number): Promise<SavedLanes | null> {
    const hash = await this.redis.hgetall(KEY);
    if (Object.keys(hash).length === 0) return null;
    return {
      state: LanesAggregatorStateHash.parse(hash, shards),
      step: Number(hash[F.step] ?? 0),
      writer: hash[F.writer] ?? null,
    };
  }

  /** The commit count and writer saved now (nulls when the state is gone). */
  async saved(): Promise<{ step: string | null; writer: string | null }> {
    const [step, writer] = await this.redis.hmget(KEY, F.step, F.writer);
    return { step, writer };
  }

  /**
   * Starts over from `state`: temps:averages emptied, both consumers' positions saved at their
   * start, in one transaction, so a crash right after resumes correctly.
   */
  async reset(state: LanesState, writer: string): Promise<void> {
    await this.redis
      .multi()
      .del(AVERAGES_STREAM, KEY, LANES_AVERAGES_READER_STATE_KEY)
      .hset(KEY, this.hash(state, 0, writer))
      .hset(LANES_AVERAGES_READER_STATE_KEY, 'last_message_id', '0')
      .exec();
  }

  /** Saves a first state only if none exists (aggregators starting at once: one wins). */
  async initialize(state: LanesState, writer: string): Promise<boolean> {
    const fields = Object.entries(this.hash(state, 0, writer)).flat();
    return (await this.redis.hsetIfAbsent(KEY, ...fields)) === 1;
  }

  /**
   * Commits a step: the averages `published`, and `to` (lane `lane` moved; any lane's pending hours
   * may have changed) as commit `step` + 1, if the saved state is still commit `step` by `writer`.
   * Resolves to the averages added. Writes nothing and rejects with StateGoneError,
   * StaleStateError or ForeignEntryError (see COMMIT_LANES).
   */
  async commit(
    from: LanesState,
    to: LanesState,
    lane: number,
    published: readonly HourlyAverage[],
    step: number,
    writer: string | null,
    instanceId: string,
  ): Promise<number> {
    const fields = this.changedFields(from, to, lane);
    fields.push([F.step, String(step + 1)], [F.writer, instanceId]);
    const averages = published.flatMap((average) => {
      const entry = Object.entries(averageFields(average)).flat();
      return [averageEntryId(average), entry.length / 2, ...entry];
    });
    return withTypedErrors(
      this.redis.commitLanes(
        KEY,
        AVERAGES_STREAM,
        ...COMMIT_LANES_GUARD.argv({ [F.step]: step, [F.writer]: writer ?? '' }),
        AVERAGES_MAXLEN,
        fields.length,
        ...fields.flat(),
        ...averages,
      ),
    );
  }

  /**
   * Each lane's watermark (Unix ms; null: the lane has no position yet), asked together (one
   * command a lane: on a cluster the lanes live in different slots).
   */
  async watermarks(tags: readonly string[]): Promise<(number | null)[]> {
    const { watermarkMs, confirmedMs } = LaneStateHash.FIELDS;
    const raw = await Promise.all(
      tags.map((tag) => this.redis.hmget(LaneStateHash.keyOf(tag), watermarkMs, confirmedMs)),
    );
    return raw.map(([watermark, confirmed]) => LaneStateHash.readableUntil(watermark, confirmed));
  }

  /**
   * Lane `tag`'s readable mark (its watermark, or its confirmed mark when lower), whether `key` (its
   * partition) is a stream and its newest entry's ID below that mark (null if none): one atomic look
   * in the lane's slot (LANE_PROGRESS). Then the saved commit count and writer, from the slot of
   * temps:averages.
   */
  async progress(
    key: string,
    tag: string,
  ): Promise<{
    watermarkMs: number | null;
    exists: boolean;
    lastId: string | null;
    saved: { step: string | null; writer: string | null };
  }> {
    const [watermark, confirmed, type, newest] = await this.redis.laneProgress(
      LaneStateHash.keyOf(tag),
      key,
    );
    return {
      watermarkMs: LaneStateHash.readableUntil(watermark, confirmed),
      exists: type === 'stream',
      lastId: newest,
      saved: await this.saved(),
    };
  }

  private hash(state: LanesState, step: number, writer: string): Record<string, string> {
    const fields = Object.entries(LanesAggregatorStateHash.serialize(state)).filter(
      ([, value]) => value !== '',
    );
    return { ...Object.fromEntries(fields), [F.step]: String(step), [F.writer]: writer };
  }

  /**
   * The fields a step changes: the global ones, the lanes' pending hours and lost stretches that
   * differ, and lane `lane`'s cursor and open hour — with its dropped fields (a mark passed, a left
   * partition no longer kept) given an empty value, which deletes them.
   */
  private changedFields(from: LanesState, to: LanesState, lane: number): [string, string][] {
    const before = LanesAggregatorStateHash.serialize(from);
    const after = LanesAggregatorStateHash.serialize(to);
    const own = laneField(lane, '');
    const { isSharedLaneField } = LanesAggregatorStateHash;
    const fields = Object.entries(after).filter(([field, value]) =>
      isSharedLaneField(field)
        ? before[field] !== value
        : !field.startsWith('lane:') || field.startsWith(own),
    );
    const dropped = Object.keys(before)
      .filter((field) => field.startsWith(own) && !(field in after))
      .map((field): [string, string] => [field, '']);
    return [...fields, ...dropped];
  }
}
