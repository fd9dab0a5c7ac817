import { CorruptStateError } from '../corrupt-state-error';
import type { LaneLease, LeaseTable } from '../lane-lease';
import { REGISTRY_KEY, laneLayout, type Lane } from '../lanes';
import { PARTITION_RANGE } from '../partition-key';
import { FIELDS as RUN_FIELDS, type RunParams } from './producer-state';

/**
 * `producer_registry{temps:averages}`: a lanes run — its parameters (the same fields as
 * `producer_state`), its shard count, each lane's tag, devices and holder, and the producers alive.
 * This module owns the field names; consumers read `shards` and the lane tags from it.
 */

export const KEY = REGISTRY_KEY;

export const FIELDS = {
  runId: RUN_FIELDS.runId,
  startMs: RUN_FIELDS.startMs,
  endMs: RUN_FIELDS.endMs,
  intervalMs: RUN_FIELDS.intervalMs,
  devices: RUN_FIELDS.devices,
  seed: RUN_FIELDS.seed,
  rate: RUN_FIELDS.rate,
  paced: RUN_FIELDS.paced,
  realStartMs: RUN_FIELDS.realStartMs,
  /** The number of lanes S (fixed for a run). */
  shards: 'shards',
  /** The last fencing token handed out (a lane taken gets the next one). */
  fenceSeq: 'fence_seq',
} as const;

/** Per-lane fields: `lane:<L>:<name>`. */
export const laneField = {
  /** The lane's hash tag, e.g. `3.17`. */
  tag: (lane: number) => `lane:${lane}:tag`,
  /** `<first device>+<count>`: the lane's devices by global index. */
  devices: (lane: number) => `lane:${lane}:devices`,
  /** The producer id holding the lane ('' when free). */
  holder: (lane: number) => `lane:${lane}:holder`,
  /** Redis time (Unix ms) until which the holder's lease on the lane runs. */
  leaseUntilMs: (lane: number) => `lane:${lane}:lease_until_ms`,
  /** The fencing token of the current holder (checked by every lane batch). */
  fence: (lane: number) => `lane:${lane}:fence`,
};

/** The prefix of `member:<producer id>` fields (Lua matches it). */
export const MEMBER_PREFIX = 'member:';

/** A producer alive: `member:<producer id>` = Redis time (Unix ms) until which it counts as alive. */
export const memberField = (producerId: string) => `${MEMBER_PREFIX}${producerId}`;

/** A lanes run: the run's parameters, its lanes, and the lease bookkeeping as last read. */
export interface Registry extends RunParams {
  shards: number;
  lanes: Lane[];
  leases: LeaseTable;
}

/**
 * The fields of a new run's registry: the run, its lanes (tag, devices; free, never taken), no
 * members. `fenceSeq` is where its tokens start (see the registry scripts: above any older run's).
 */
export function serialize(run: RunParams, shards: number, fenceSeq = 0): Record<string, string> {
  const fields: Record<string, string> = {
    [FIELDS.runId]: run.runId,
    [FIELDS.startMs]: String(run.startMs),
    [FIELDS.endMs]: run.endMs === null ? '' : String(run.endMs),
    [FIELDS.intervalMs]: String(run.intervalMs),
    [FIELDS.devices]: String(run.devices),
    [FIELDS.seed]: String(run.seed),
    [FIELDS.rate]: String(run.rate),
    [FIELDS.paced]: run.paced ? '1' : '0',
    [FIELDS.realStartMs]: String(run.realStartMs),
    [FIELDS.shards]: String(shards),
    [FIELDS.fenceSeq]: String(fenceSeq),
  };
  for (const lane of laneLayout(shards, run.devices)) {
    fields[laneField.tag(lane.index)] = lane.tag;
    fields[laneField.devices(lane.index)] = `${lane.firstDevice}+${lane.devices}`;
    fields[laneField.holder(lane.index)] = '';
    fields[laneField.leaseUntilMs(lane.index)] = '0';
    fields[laneField.fence(lane.index)] = '0';
  }
  return fields;
}

/**
 * The run in `hash` (HGETALL); CorruptStateError naming the field when it cannot be one. The lanes
 * must be the layout `laneLayout(shards, devices)` gives: the tags and devices are what a reader of
 * the registry relies on.
 */
export function parse(hash: Record<string, string>): Registry {
  const hint = 'start a new run without --resume.';
  const fail = (field: string, why: string): never => {
    throw new CorruptStateError(`${KEY}.${field} ${why}; ${hint}`);
  };
  const number = (field: string, fallback?: number): number => {
    const raw = hash[field];
    if ((raw === undefined || raw === '') && fallback !== undefined) return fallback;
    const value = Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(value)) {
      return fail(field, 'is missing or not a number');
    }
    return value;
  };
  if (!hash[FIELDS.runId]) fail(FIELDS.runId, 'is missing');
  const run: RunParams = {
    runId: hash[FIELDS.runId],
    startMs: number(FIELDS.startMs),
    endMs: hash[FIELDS.endMs] === '' ? null : number(FIELDS.endMs),
    intervalMs: number(FIELDS.intervalMs),
    devices: number(FIELDS.devices),
    seed: number(FIELDS.seed),
    rate: number(FIELDS.rate),
    paced: hash[FIELDS.paced] === '1',
    realStartMs: number(FIELDS.realStartMs),
  };
  const inRange = (ms: number) => ms >= PARTITION_RANGE.startMs && ms <= PARTITION_RANGE.endMs;
  if (!inRange(run.startMs) || (run.endMs !== null && !inRange(run.endMs))) {
    fail(FIELDS.startMs, 'is outside 1970-01-01 … 9999-12-31');
  }
  const shards = number(FIELDS.shards);
  let lanes: Lane[] = [];
  try {
    lanes = laneLayout(shards, run.devices);
  } catch (error) {
    fail(FIELDS.shards, `cannot split ${run.devices} devices (${(error as Error).message})`);
  }
  const leases: LaneLease[] = lanes.map((lane) => {
    if (hash[laneField.tag(lane.index)] !== lane.tag) {
      fail(laneField.tag(lane.index), `is not ${lane.tag}`);
    }
    if (hash[laneField.devices(lane.index)] !== `${lane.firstDevice}+${lane.devices}`) {
      fail(laneField.devices(lane.index), `is not ${lane.firstDevice}+${lane.devices}`);
    }
    return {
      holder: hash[laneField.holder(lane.index)] ?? '',
      leaseUntilMs: number(laneField.leaseUntilMs(lane.index), 0),
      fence: number(laneField.fence(lane.index), 0),
    };
  });
  const members: Record<string, number> = {};
  for (const field of Object.keys(hash)) {
    if (field.startsWith(MEMBER_PREFIX)) {
      members[field.slice(MEMBER_PREFIX.length)] = number(field);
    }
  }
  return {
    ...run,
    shards,
    lanes,
    leases: { members, lanes: leases, fenceSeq: number(FIELDS.fenceSeq, 0) },
  };
}
