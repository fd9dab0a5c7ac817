import { REGISTRY_KEY } from '../lanes';
import { FIELDS as RUN_FIELDS } from './producer-state';

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

/** A producer alive: `member:<producer id>` = Redis time (Unix ms) until which it counts as alive. */
export const memberField = (producerId: string) => `member:${producerId}`;
