import { Inject, Injectable } from '@nestjs/common';
import {
  defineScripts,
  masterOf,
  nodeAddress,
  scanPartitions,
  withTypedErrors,
  REDIS_CLIENT,
  type RedisClient,
} from '@temps/redis';
import {
  LaneRegistryHash,
  LaneStateHash,
  partitionDayStart,
  slotOf,
  type GeneratorState,
  type Lane,
  type ProducerStateHash,
} from '@temps/streams';
import {
  CLAIM_LANE,
  CONFIRM_LANE,
  CREATE_RUN,
  LEASE_LANES,
  WRITE_LANE_BATCH,
} from './scripts/lanes.lua';
import type { Batch } from './producer.repository';

type RunParams = ProducerStateHash.RunParams;
type Registry = LaneRegistryHash.Registry;
type LaneState = LaneStateHash.LaneState;

/** What one lease call left this producer with (see LEASE_LANES). */
export interface LeaseCall {
  /** Redis time of the call (Unix ms). */
  nowMs: number;
  /** Live members after the call. */
  live: number;
  /** Lanes held after the call, ascending, each with its fencing token. */
  held: { lane: number; token: string }[];
  taken: number[];
  released: number[];
}

/** A lane taken: its state as saved, and whether the take started it afresh. */
export interface Claimed {
  started: boolean;
  state: LaneState;
}

/** All of the lanes layout's Redis access: the run's registry, lane states and lane partitions. */
@Injectable()
export class LanesRepository {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    defineScripts(redis, WRITE_LANE_BATCH, CREATE_RUN, LEASE_LANES, CONFIRM_LANE);
    if (!(CLAIM_LANE.name in redis)) redis.defineCommand(CLAIM_LANE.name, { lua: CLAIM_LANE.lua });
  }

  /** The run in the registry, or null when there is none (CorruptStateError if unreadable). */
  async loadRegistry(): Promise<Registry | null> {
    const hash = await this.redis.hgetall(LaneRegistryHash.KEY);
    if (Object.keys(hash).length === 0) return null;
    return LaneRegistryHash.parse(hash);
  }

  /** The registry's run id (null: no registry). */
  async registryRunId(): Promise<string | null> {
    return this.redis.hget(LaneRegistryHash.KEY, LaneRegistryHash.FIELDS.runId);
  }

  /** The lane tags the registry names, whatever else it holds (to clear an old run's keys). */
  async registryTags(): Promise<string[]> {
    const hash = await this.redis.hgetall(LaneRegistryHash.KEY);
    return Object.entries(hash)
      .filter(([field, tag]) => /^lane:\d+:tag$/.test(field) && /^\d+\.\d+$/.test(tag))
      .map(([, tag]) => tag);
  }

  /** Lane `tag`'s partitions for days at or after `fromMs`, oldest first (SCAN). */
  async lanePartitionsFrom(tag: string, fromMs: number): Promise<string[]> {
    return (await scanPartitions(this.redis, tag)).filter(
      (key) => partitionDayStart(key)! >= fromMs,
    );
  }

  /**
   * Deletes lane states and lane partitions before a new run: each lane's keys in one transaction
   * (they share the lane's slot).
   */
  async clearLanes(lanes: { tag: string; partitions: string[] }[]): Promise<void> {
    for (const { tag, partitions } of lanes) {
      await this.redis
        .multi()
        .del(LaneStateHash.keyOf(tag), ...partitions)
        .exec();
    }
  }

  /**
   * Writes the run's registry: `replace` overwrites any run; otherwise only when there is none.
   * Resolves to whether it wrote.
   */
  async createRun(run: RunParams, shards: number, replace: boolean): Promise<boolean> {
    const fields = Object.entries(LaneRegistryHash.serialize(run, shards)).flat();
    return (
      (await withTypedErrors(
        this.redis.createLanesRun(LaneRegistryHash.KEY, replace ? '1' : '0', ...fields),
      )) === 1
    );
  }

  /**
   * One lease call (LEASE_LANES): renews membership and leases, takes or gives back lanes toward the
   * fair share; `leave` gives everything back. StateGoneError / StaleStateError when the run is gone
   * or replaced.
   */
  async lease(
    runId: string,
    producerId: string,
    leaseMs: number,
    leave = false,
  ): Promise<LeaseCall> {
    const [now, live, flatHeld, taken, released] = await withTypedErrors(
      this.redis.leaseLanes(LaneRegistryHash.KEY, runId, producerId, leaseMs, leave ? '1' : '0'),
    );
    const held: LeaseCall['held'] = [];
    for (let i = 0; i < flatHeld.length; i += 2) {
      held.push({ lane: Number(flatHeld[i]), token: String(flatHeld[i + 1]) });
    }
    return { nowMs: Number(now), live: Number(live), held, taken, released };
  }

  /**
   * Takes lane `lane`'s state with `token` (CLAIM_LANE). `confirms`: the holder confirms its
   * writes with replicas (REDIS_WAIT_REPLICAS); when not, the lane's confirmed mark is removed.
   * `partitions` lists the lane's partitions of the run, asked for only when the lane must be
   * started afresh. FencedError when a later holder has it; ForeignKeyError for a listed key that
   * is not a stream.
   */
  async claimLane(
    run: RunParams,
    lane: Lane,
    token: string,
    firstGenerator: GeneratorState,
    producerId: string,
    confirms: boolean,
    partitions: () => Promise<string[]>,
  ): Promise<Claimed> {
    const key = LaneStateHash.keyOf(lane.tag);
    const call = (keys: string[] | null) =>
      withTypedErrors(
        this.redis.claimLane(
          1 + (keys?.length ?? 0),
          key,
          ...(keys ?? []),
          run.runId,
          token,
          run.startMs,
          JSON.stringify(firstGenerator),
          producerId,
          keys === null ? '0' : '1',
          confirms ? '1' : '0',
        ),
      );
    let reply = await call(null);
    if (reply === 'list') reply = await call(await partitions());
    const [outcome, ...flat] = reply as string[];
    const hash: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
    return {
      started: outcome === 'started',
      state: LaneStateHash.parse(key, hash, lane.devices),
    };
  }

  /** Lane `lane`'s saved state (null: none). */
  async loadLaneState(lane: Lane): Promise<LaneState | null> {
    const key = LaneStateHash.keyOf(lane.tag);
    const hash = await this.redis.hgetall(key);
    if (Object.keys(hash).length === 0) return null;
    return LaneStateHash.parse(key, hash, lane.devices);
  }

  /** Each lane's saved `watermark_ms` and `run_id` (nulls where a lane has no state yet). */
  async laneWatermarks(
    lanes: readonly Lane[],
  ): Promise<{ runId: string | null; ms: number | null }[]> {
    const { runId, watermarkMs } = LaneStateHash.FIELDS;
    return Promise.all(
      lanes.map(async (lane) => {
        const [run, ms] = await this.redis.hmget(LaneStateHash.keyOf(lane.tag), runId, watermarkMs);
        return { runId: run, ms: ms === null || ms === '' ? null : Number(ms) };
      }),
    );
  }

  /**
   * Writes one lane batch and advances the lane's position atomically (WRITE_LANE_BATCH). A refusal
   * writes nothing and rejects with its typed error: FencedError (another producer holds the lane),
   * StateGoneError, StaleStateError, ForeignKeyError, ForeignEntryError; a full Redis with
   * RedisOutOfMemoryError.
   */
  writeLaneBatch(
    run: RunParams,
    lane: Lane,
    token: string,
    producerId: string,
    batch: Batch,
  ): Promise<number> {
    const devices = Array.from({ length: lane.devices }, (_, i) => lane.firstDevice + i);
    return withTypedErrors(
      this.redis.writeLaneBatch(
        batch.partition,
        LaneStateHash.keyOf(lane.tag),
        run.runId,
        batch.firstMs,
        token,
        run.intervalMs,
        lane.devices,
        batch.expireAtMs,
        batch.watermarkMs,
        JSON.stringify(batch.generator),
        producerId,
        ...devices,
        ...batch.temps,
      ),
    );
  }

  /**
   * Moves lane `tag`'s confirmed mark up to `markMs` (CONFIRM_LANE) if `token` still holds it;
   * `first` sets a first mark only where there is none. Resolves to whether it moved.
   */
  async confirmLane(tag: string, token: string, markMs: number, first = false): Promise<boolean> {
    return (
      (await this.redis.confirmLane(LaneStateHash.keyOf(tag), token, markMs, first ? '1' : '0')) ===
      1
    );
  }

  /**
   * WAIT for `replicas` replicas (at most `timeoutMs`) on the connection that took lane `tag`'s
   * writes: on a cluster, the client's connection to the master serving the lane's slot (a keyless
   * WAIT through the cluster client would go to any node and vouch for nothing). Resolves to the
   * replicas that acknowledged, 0 when the master is not known now.
   */
  async waitForReplicas(tag: string, replicas: number, timeoutMs: number): Promise<number> {
    const node = masterOf(this.redis, slotOf(tag));
    return node ? node.wait(replicas, timeoutMs) : 0;
  }

  /** Which connection lane `tag` is written through (`host:port`; '' when not known now). */
  nodeOf(tag: string): string {
    const node = masterOf(this.redis, slotOf(tag));
    return node ? nodeAddress(node) : '';
  }
}
