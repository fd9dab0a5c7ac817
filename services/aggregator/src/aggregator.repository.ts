import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  HSET_IF_ABSENT,
  defineScripts,
  keyTypes,
  scanPartitions,
  withTypedErrors,
  REDIS_CLIENT,
  type RedisClient,
} from '@temps/redis';
import {
  AGGREGATOR_STATE_KEY,
  AVERAGES_READER_STATE_KEY,
  AVERAGES_STREAM,
  AggregatorStateHash,
  EMPTY_WINDOW,
  ProducerStateHash,
  PRODUCER_STATE_KEY,
  averageEntryId,
  averageFields,
  compareEntryIds,
  partitionDayStart,
  type AggregatorState,
  type FoldRange,
  type HourlyAverage,
  type PartitionFold,
  type ReadingRejectReason,
  type WindowState,
  LaneStateHash,
} from '@temps/streams';
import { COMMIT_AGGREGATION, COMMIT_GUARD } from './scripts/commit-aggregation.lua';
import { FOLD_PARTITION } from './scripts/fold-partition.lua';

const AGGREGATOR_FIELDS = AggregatorStateHash.FIELDS;
const { parse: parseState, serialize: serializeState } = AggregatorStateHash;
const { parseWatermark } = ProducerStateHash;

/**
 * Entries per fold call: about 5 ms of server time each (measured: 2,000 → 2.1 ms, 5,000 → 4.8 ms,
 * 10,000 → 11.6 ms), long enough to amortise a round trip, short enough not to stall other clients.
 */
export const FOLD_BOUND = 5_000;

/** A fold of the current partition and the watermark it ran with (Unix ms; null: no producer). */
export interface FoldRead {
  fold: PartitionFold;
  watermarkMs: number | null;
}

/** temps:averages holds about five days of hourly averages. */
export const AVERAGES_MAXLEN = 120;

/** All of the aggregator's Redis access. */
@Injectable()
export class AggregatorRepository {
  /** Written with every commit as `written_by`: tells this process's commits from another's. */
  readonly instanceId = randomUUID();

  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    defineScripts(redis, COMMIT_AGGREGATION, FOLD_PARTITION, HSET_IF_ABSENT);
  }

  /** The state as a new hash: fields with a value only (an empty value means "absent"). */
  private stateHash(state: AggregatorState): Record<string, string> {
    const fields = Object.entries(serializeState(state)).filter(([, value]) => value !== '');
    return { ...Object.fromEntries(fields), [AGGREGATOR_FIELDS.writer]: this.instanceId };
  }

  async load(): Promise<AggregatorState | null> {
    return (await this.loadWithWriter())?.state ?? null;
  }

  /** The saved state and whether this process wrote it last (null when there is none). */
  async loadWithWriter(): Promise<{
    state: AggregatorState;
    mine: boolean;
    /** The process that saved it last (null: unknown, e.g. written by the exercise's code). */
    writer: string | null;
  } | null> {
    const hash = await this.redis.hgetall(AGGREGATOR_STATE_KEY);
    if (Object.keys(hash).length === 0) return null;
    const writer = hash[AGGREGATOR_FIELDS.writer] ?? null;
    return { state: parseState(hash), mine: writer === this.instanceId, writer };
  }

  /**
   * Starts the pipeline over from a partition: temps:averages emptied, both consumers' positions
   * saved at their start, in one transaction, so a crash right after resumes correctly.
   */
  async reset(state: AggregatorState): Promise<void> {
    await this.redis
      .multi()
      .del(AVERAGES_STREAM, AGGREGATOR_STATE_KEY, AVERAGES_READER_STATE_KEY)
      .hset(AGGREGATOR_STATE_KEY, this.stateHash(state))
      .hset(AVERAGES_READER_STATE_KEY, 'last_message_id', '0')
      .exec();
  }

  /** Saves a first state only if none exists (a container starting from the oldest partition). */
  async initialize(state: AggregatorState): Promise<boolean> {
    const created = await this.redis.hsetIfAbsent(
      AGGREGATOR_STATE_KEY,
      ...Object.entries(this.stateHash(state)).flat(),
    );
    return created === 1;
  }

  /**
   * Commits closed averages and the new state together, if the state is still `from` as saved by
   * `writer` (null: saved without one); returns how many averages were added and the watermark.
   * Writes nothing and rejects with StateGoneError when there is no saved state, StaleStateError
   * when the saved cursor or writer is another, ForeignEntryError when temps:averages ends with an
   * entry that is not an average at or after one to add.
   */
  async commit(
    from: AggregatorState,
    to: AggregatorState,
    closed: readonly HourlyAverage[],
    writer: string | null,
  ): Promise<{ added: number; watermarkMs: number | null }> {
    const [added, watermark] = await withTypedErrors(
      this.redis.commitAggregation(...this.commitArgs(from, to, closed, writer)),
    );
    return { added, watermarkMs: parseWatermark(watermark) };
  }

  /**
   * Folds `range` of the state's partition inside Redis (FOLD_PARTITION), continuing the state's
   * open hour, `bound` entries at most, with the producer's watermark read in the same step (from
   * `watermarkKey`: producer_state, or a lane's producer_state:{tag}).
   */
  async fold(
    state: AggregatorState,
    range: FoldRange,
    bound = FOLD_BOUND,
    watermarkKey = PRODUCER_STATE_KEY,
  ): Promise<FoldRead> {
    return parseFold(
      await this.redis.foldPartition(...this.foldArgs(state, range, bound, watermarkKey)),
    );
  }

  private commitArgs(
    from: AggregatorState,
    to: AggregatorState,
    closed: readonly HourlyAverage[],
    writer: string | null,
  ): [string, string, string, ...(string | number)[]] {
    // Left partitions no longer kept are deleted (an empty value), so the hash does not grow.
    const dropped = Object.keys(from.left ?? {})
      .filter((key) => !(to.left && key in to.left))
      .flatMap((key) => [`${AGGREGATOR_FIELDS.leftPrefix}${key}`, '']);
    const state = serializeState(to);
    // An open hour no longer marked partial (it closed), a pending mark passed: their fields go.
    const unmarked = [AGGREGATOR_FIELDS.partial, AGGREGATOR_FIELDS.partialHour]
      .filter((field) => !(field in state))
      .flatMap((field) => [field, '']);
    const fields = [
      ...Object.entries(state).flat(),
      ...unmarked,
      ...dropped,
      AGGREGATOR_FIELDS.writer,
      this.instanceId,
    ];
    const averages = closed.flatMap((average) => {
      const entry = Object.entries(averageFields(average)).flat();
      return [averageEntryId(average), entry.length / 2, ...entry];
    });
    return [
      AGGREGATOR_STATE_KEY,
      AVERAGES_STREAM,
      PRODUCER_STATE_KEY,
      ...COMMIT_GUARD.argv({
        [AGGREGATOR_FIELDS.streamKey]: from.streamKey,
        [AGGREGATOR_FIELDS.lastId]: from.lastId,
        [AGGREGATOR_FIELDS.writer]: writer ?? '',
      }),
      AVERAGES_MAXLEN,
      fields.length / 2,
      ...fields,
      ...averages,
    ];
  }

  private foldArgs(
    state: AggregatorState,
    range: FoldRange,
    bound: number,
    watermarkKey: string,
  ): [string, string, ...(string | number)[]] {
    const { window } = state;
    const { start } = range;
    return [
      state.streamKey,
      watermarkKey,
      'hourMs' in start ? `${start.hourMs}-0` : start.afterId === '0' ? '-' : `(${start.afterId}`,
      bound,
      partitionDayStart(state.streamKey)!,
      state.publishedUntilMs,
      state.earlyThrough ?? '',
      window.hourStartMs,
      String(window.total),
      window.count,
      String(window.min),
      String(window.max),
      range.untilMs ?? '',
    ];
  }

  /** The producer's watermark (Unix ms; null: no producer), from `key` (a lane's, with lanes). */
  async watermark(key = PRODUCER_STATE_KEY): Promise<number | null> {
    const [watermark, confirmed] = await this.redis.hmget(
      key,
      ProducerStateHash.FIELDS.watermarkMs,
      LaneStateHash.FIELDS.confirmedMs,
    );
    return LaneStateHash.readableUntil(watermark, confirmed);
  }

  /**
   * In one snapshot (MULTI): the producer's watermark, whether the partition is a stream, its
   * newest entry's ID (null if none), and the saved cursor.
   */
  async progress(key: string): Promise<{
    watermarkMs: number | null;
    exists: boolean;
    lastId: string | null;
    /** The saved cursor and who saved it (null fields when the state is gone). */
    saved: { streamKey: string | null; lastId: string | null; writer: string | null };
  }> {
    const replies = (await this.redis
      .multi()
      .hget(PRODUCER_STATE_KEY, ProducerStateHash.FIELDS.watermarkMs)
      .type(key)
      .call('XREVRANGE', key, '+', '-', 'COUNT', '1')
      .hmget(
        AGGREGATOR_STATE_KEY,
        AGGREGATOR_FIELDS.streamKey,
        AGGREGATOR_FIELDS.lastId,
        AGGREGATOR_FIELDS.writer,
      )
      .exec())!;
    const [[, watermark], [, type], [rangeError, newest], [, cursor]] = replies;
    const exists = type === 'stream';
    const top = exists && !rangeError ? (newest as [string, string[]][])[0] : undefined;
    const [savedKey, savedId, writer] = cursor as (string | null)[];
    return {
      watermarkMs: parseWatermark(watermark as string | null),
      exists,
      lastId: top?.[0] ?? null,
      saved: { streamKey: savedKey, lastId: savedId, writer },
    };
  }

  /**
   * Entries written into partitions already left (after each one's mark in `left`; '0': any), up to
   * `count` a partition: how many per partition, and the marks moved past them. Partitions not in
   * `existing` are not looked at.
   */
  async lateInLeft(
    left: Readonly<Record<string, string>>,
    existing: readonly string[],
    count: number,
  ): Promise<{ late: Map<string, number>; marks: Record<string, string> }> {
    const there = new Set(existing);
    const watched = Object.entries(left).filter(([key]) => there.has(key));
    const late = new Map<string, number>();
    const marks: Record<string, string> = {};
    if (watched.length === 0) return { late, marks };
    // One command a partition, sent together: each is routed (and redirected) by itself.
    const newest = await Promise.all(
      watched.map(([key]) =>
        this.redis.xrevrange(key, '+', '-', 'COUNT', 1).then(
          (reply) => reply[0]?.[0] ?? null,
          () => null,
        ),
      ),
    );
    for (const [i, [key, mark]] of watched.entries()) {
      const top = newest[i];
      if (top === null || (mark !== '0' && compareEntryIds(top, mark) <= 0)) continue;
      const start = mark === '0' ? '-' : `(${mark}`;
      const ids = (await this.redis.xrange(key, start, '+', 'COUNT', count)).map(([id]) => id);
      if (ids.length === 0) continue;
      marks[key] = ids[ids.length - 1];
      late.set(key, ids.length);
    }
    return { late, marks };
  }

  /** Which of `keys` XREAD can read: streams, or keys not there yet (XREAD waits for them). */
  async readable(keys: string[]): Promise<boolean[]> {
    return (await keyTypes(this.redis, keys)).map((type) => type === 'stream' || type === 'none');
  }

  /**
   * Day partitions holding readings, oldest first. Keys of another type and empty streams (someone
   * else's, or a day's name taken early) are not partitions: starting at one, or taking one as proof
   * that the days before it are complete, would skip real data. Of the exercise's layout, or of the
   * lane tagged `lane`.
   */
  async partitions(lane: string | null = null): Promise<string[]> {
    const streams = await scanPartitions(this.redis, lane);
    const lengths = await Promise.all(streams.map((key) => this.redis.xlen(key).catch(() => 0)));
    return streams.filter((_, i) => lengths[i] > 0);
  }
}

type FoldReply = [
  string | null,
  number,
  number,
  number,
  (string | number)[],
  (string | number)[],
  (string | number)[],
  (string | number)[],
  string | null,
  string | null,
  number,
  string | null,
];

/** Every float crosses as `%.17g` text: Number() reads back the exact double Lua summed. */
function parseHour(values: readonly (string | number)[], at: number): WindowState {
  return {
    hourStartMs: Number(values[at]),
    total: Number(values[at + 1]),
    count: Number(values[at + 2]),
    min: Number(values[at + 3]),
    max: Number(values[at + 4]),
  };
}

function parseFold(reply: FoldReply): FoldRead {
  const [
    lastId,
    consumed,
    accepted,
    more,
    rejectedFlat,
    closedFlat,
    window,
    early,
    watermark,
    opened,
    exhausted,
    head,
  ] = reply;
  const rejected: Partial<Record<ReadingRejectReason, number>> = {};
  for (let i = 0; i < rejectedFlat.length; i += 2) {
    rejected[rejectedFlat[i] as ReadingRejectReason] = Number(rejectedFlat[i + 1]);
  }
  const closed: HourlyAverage[] = [];
  for (let i = 0; i < closedFlat.length; i += 5) closed.push(parseHour(closedFlat, i));
  const open = parseHour(window, 0);
  return {
    fold: {
      lastId: lastId ?? null,
      consumed,
      accepted,
      more: more === 1,
      exhausted: exhausted === 1,
      openedMs: opened === null ? null : Number(opened),
      closed,
      window: open.count > 0 ? open : EMPTY_WINDOW,
      rejected,
      early:
        early.length === 3
          ? { firstId: String(early[0]), uncounted: Number(early[1]), through: String(early[2]) }
          : null,
      head: head ?? null,
    },
    watermarkMs: parseWatermark(watermark),
  };
}
