import { CorruptStateError } from '../corrupt-state-error';
import type { LostRange } from '../aggregation-step';
import type { HourlyAverage } from '../hourly-window';
import type { LanesState } from '../lane-merge';
import { LANES_AGGREGATOR_STATE_KEY } from '../lanes';
import { PARTIAL_HOUR_REASONS, type PartialHourReason } from '../reasons';
import { HOUR_MS } from '../time';
import * as AggregatorStateHash from './aggregator-state';

/**
 * `aggregating_consumer_state{temps:averages}`: the aggregating consumer's state when the producers
 * write lanes. Lane L's cursor and open hour are the one-partition state's fields (the seed's names)
 * under `lane:<L>:`; its closed hours not yet published are `lane:<L>:pending`. The hash shares the
 * slot of temps:averages, so a step commits averages and state in one atomic script on a cluster too.
 */

export const KEY = LANES_AGGREGATOR_STATE_KEY;

export const FIELDS = {
  /** The number of lanes (fixed for a run). */
  shards: 'shards',
  /** Unix ms: every hour before it is published. */
  publishedUntil: 'published_until_ms',
  /** Counts commits: each one expects the count it starts from (the single-writer guard). */
  step: 'step',
  /** The id of the process that committed last (see SingleWriter). */
  writer: 'written_by',
} as const;

/** `lane:<L>:<field>`: lane L's one-partition state field, or its `pending` hours. */
export const laneField = (lane: number, field: string) => `lane:${lane}:${field}`;
const PENDING = 'pending';
const LOST = 'lost';

/** Fields every step may change for any lane (its pending hours, its lost stretches). */
export const isSharedLaneField = (field: string) =>
  field.endsWith(`:${PENDING}`) || field.endsWith(`:${LOST}`);

/** The hash's fields for `state` (without `step` and `written_by`, which the commit adds). */
export function serialize(state: LanesState): Record<string, string> {
  const fields: Record<string, string> = {
    [FIELDS.shards]: String(state.lanes.length),
    [FIELDS.publishedUntil]: String(state.publishedUntilMs),
  };
  state.lanes.forEach((lane, i) => {
    for (const [field, value] of Object.entries(AggregatorStateHash.serialize(lane))) {
      fields[laneField(i, field)] = value;
    }
    // JSON keeps every double exactly (shortest round-trip form).
    fields[laneField(i, PENDING)] = JSON.stringify(
      state.pending[i].map((h) => [h.hourStartMs, h.total, h.count, h.min, h.max, h.partial ?? '']),
    );
    fields[laneField(i, LOST)] = JSON.stringify(
      state.lost[i].map((r) => [r.fromMs, r.untilMs, r.reason]),
    );
  });
  return fields;
}

/** Fields of lane `lane` that one-partition states may drop (a commit deletes them when absent). */
export function optionalLaneFields(lane: number): string[] {
  const F = AggregatorStateHash.FIELDS;
  return [F.partial, F.partialHour, F.earlyThrough].map((field) => laneField(lane, field));
}

/**
 * Parses the saved hash; CorruptStateError naming the field when it cannot be a state of `shards`
 * lanes (a state of another shard count is refused too: S is fixed for a run).
 */
export function parse(hash: Record<string, string>, shards: number): LanesState {
  const fail = (why: string): never => {
    throw new CorruptStateError(
      `${KEY} ${why}. Start the aggregator with a partition name (e.g. temps:20250101) to reset it.`,
    );
  };
  if (hash[FIELDS.shards] !== String(shards)) {
    fail(`holds ${hash[FIELDS.shards] ?? 'no'} lanes, but the run has ${shards}`);
  }
  const publishedUntilMs = Number(hash[FIELDS.publishedUntil]);
  if (!Number.isInteger(publishedUntilMs) || publishedUntilMs % HOUR_MS !== 0) {
    fail(`${FIELDS.publishedUntil} is not the start of an hour`);
  }
  const lanes = [];
  const pending: HourlyAverage[][] = [];
  const lost: LostRange[][] = [];
  for (let lane = 0; lane < shards; lane++) {
    const prefix = laneField(lane, '');
    const own = Object.fromEntries(
      Object.entries(hash)
        .filter(([field]) => field.startsWith(prefix) && !isSharedLaneField(field))
        .map(([field, value]) => [field.slice(prefix.length), value]),
    );
    try {
      lanes.push(AggregatorStateHash.parse(own));
    } catch (error) {
      fail(`lane ${lane}: ${(error as Error).message.replace(/\. Start the aggregator.*$/, '')}`);
    }
    pending.push(parsePending(hash[laneField(lane, PENDING)], lane, fail));
    lost.push(parseLost(hash[laneField(lane, LOST)], lane, fail));
  }
  return { lanes, pending, lost, publishedUntilMs };
}

function parsePending(raw: string | undefined, lane: number, fail: (why: string) => never) {
  const field = laneField(lane, PENDING);
  let rows: unknown;
  try {
    rows = JSON.parse(raw ?? '');
  } catch {
    return fail(`${field} is missing or not JSON`);
  }
  if (!Array.isArray(rows)) return fail(`${field} is not a list`);
  return rows.map((row): HourlyAverage => {
    const ok =
      Array.isArray(row) &&
      row.length === 6 &&
      row.slice(0, 5).every((v) => typeof v === 'number' && Number.isFinite(v)) &&
      row[0] % HOUR_MS === 0 &&
      row[2] > 0 &&
      (row[5] === '' || PARTIAL_HOUR_REASONS.includes(row[5]));
    if (!ok) fail(`${field} holds a row that is not a closed hour (${JSON.stringify(row)})`);
    const [hourStartMs, total, count, min, max, partial] = row as [
      number,
      number,
      number,
      number,
      number,
      PartialHourReason | '',
    ];
    return { hourStartMs, total, count, min, max, ...(partial ? { partial } : {}) };
  });
}

function parseLost(raw: string | undefined, lane: number, fail: (why: string) => never) {
  const field = laneField(lane, LOST);
  // Absent from a state saved before lost stretches were kept: none known.
  if (raw === undefined) return [];
  let rows: unknown;
  try {
    rows = JSON.parse(raw);
  } catch {
    return fail(`${field} is not JSON`);
  }
  if (!Array.isArray(rows)) return fail(`${field} is not a list`);
  return rows.map((row): LostRange => {
    const ok =
      Array.isArray(row) &&
      row.length === 3 &&
      Number.isInteger(row[0]) &&
      Number.isInteger(row[1]) &&
      row[0] < row[1] &&
      PARTIAL_HOUR_REASONS.includes(row[2]);
    if (!ok) fail(`${field} holds a row that is not a lost stretch (${JSON.stringify(row)})`);
    return { fromMs: row[0], untilMs: row[1], reason: row[2] as PartialHourReason };
  });
}
