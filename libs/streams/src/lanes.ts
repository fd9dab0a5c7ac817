import { AVERAGES_STREAM } from './keys';

// ioredis's own slot function (CRC16 mod 16384, honouring a {tag}); the package ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const keySlot: (key: string) => number = require('cluster-key-slot');

/**
 * Lanes: the layout for many producers. With `shards` S, the run's devices are split over S lanes;
 * lane L of day D is the stream `temps:YYYYMMDD:{t_L}`, written by one producer at a time, and its
 * position, generator state and fence live in `producer_state:{t_L}`. Every key of a lane carries
 * the lane's hash tag `{t_L}`, so each atomic step touches one Redis Cluster hash slot; the run's
 * registry and the consumers' state hashes carry `{temps:averages}`, the slot of `temps:averages`
 * (a key without braces hashes whole), so the aggregator's commit stays one atomic step.
 *
 * Without `shards` (null) the layout is the exercise's own: `temps:YYYYMMDD`, `producer_state`.
 */

/** Redis Cluster's hash slots: a key lives in CRC16(tag) mod 16384. */
export const CLUSTER_SLOTS = 16_384;

/** The most lanes a run can have (each needs its own tag and its own slot range). */
export const MAX_SHARDS = 256;

/** The run's parameters and each lane's holder (hash; see LaneRegistryHash). */
export const REGISTRY_KEY = `producer_registry{${AVERAGES_STREAM}}`;

/** The aggregating consumer's state when the producers write lanes. */
export const LANES_AGGREGATOR_STATE_KEY = `aggregating_consumer_state{${AVERAGES_STREAM}}`;

/** The averages reader's state when the producers write lanes. */
export const LANES_AVERAGES_READER_STATE_KEY = `averages_consumer_state{${AVERAGES_STREAM}}`;

/** One lane of a run: its number, hash tag and the devices it carries (global indexes). */
export interface Lane {
  index: number;
  /** The hash tag without braces, e.g. `3.17`. */
  tag: string;
  /** Global index of the lane's first device. */
  firstDevice: number;
  /** How many devices the lane carries (≥ 1). */
  devices: number;
}

/** The Redis Cluster hash slot of `key` (0 … 16383), honouring a `{tag}`. */
export function slotOf(key: string): number {
  return keySlot(key);
}

/**
 * The hash tag of lane `lane` of `shards`: the first string `L.k` (k = 0, 1, …) whose slot falls in
 * the lane's share of the slot space, [L·16384/S, (L+1)·16384/S). Small tags such as `{0}`…`{5}`
 * put 1/3/2 of 6 lanes on the 3 masters of a cluster; tags chosen this way spread evenly over any
 * even split of the slots.
 */
export function laneTag(lane: number, shards: number): string {
  checkShards(shards);
  if (!Number.isInteger(lane) || lane < 0 || lane >= shards) {
    throw new RangeError(`lane must be an integer in 0 … ${shards - 1}, got ${lane}`);
  }
  const from = Math.floor((lane * CLUSTER_SLOTS) / shards);
  const to = Math.floor(((lane + 1) * CLUSTER_SLOTS) / shards);
  for (let k = 0; ; k++) {
    const tag = `${lane}.${k}`;
    const slot = slotOf(tag);
    if (slot >= from && slot < to) return tag;
  }
}

/**
 * The lanes of a run of `devices` devices over `shards` lanes: lane L carries the devices
 * [⌊L·n/S⌋, ⌊(L+1)·n/S⌋). Throws RangeError unless 1 ≤ shards ≤ min(devices, MAX_SHARDS).
 */
export function laneLayout(shards: number, devices: number): Lane[] {
  checkShards(shards);
  if (!Number.isInteger(devices) || devices < shards) {
    throw new RangeError(`${shards} lanes need at least ${shards} devices, got ${devices}`);
  }
  return Array.from({ length: shards }, (_, index) => {
    const firstDevice = Math.floor((index * devices) / shards);
    const next = Math.floor(((index + 1) * devices) / shards);
    return { index, tag: laneTag(index, shards), firstDevice, devices: next - firstDevice };
  });
}

/**
 * The seed of lane `lane`'s reading generator, from the run's seed (both uint32): the same seed gives
 * the same lanes whatever number of producers writes them.
 */
export function laneSeed(seed: number, lane: number): number {
  // splitmix32-style mixing: neighbouring lanes get unrelated streams.
  let z = (seed + Math.imul(lane + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** `producer_state:{tag}`: lane `tag`'s position, watermark, generator state and fence. */
export function laneStateKey(tag: string): string {
  return `producer_state:{${tag}}`;
}

function checkShards(shards: number): void {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new RangeError(`shards must be an integer in 1 … ${MAX_SHARDS}, got ${shards}`);
  }
}
