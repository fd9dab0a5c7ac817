import type { AggregatorState } from '../aggregation-step';
import { CorruptStateError } from '../corrupt-state-error';
import { isEntryId } from '../entry-id';
import { EMPTY_WINDOW } from '../hourly-window';
import { AGGREGATOR_STATE_KEY } from '../keys';
import { isPartitionKey } from '../partition-key';
import { PARTIAL_HOUR_REASONS, type PartialHourReason } from '../reasons';
import { HOUR_MS } from '../time';

/**
 * `aggregating_consumer_state`: the aggregating consumer's cursor and running totals. This module
 * owns the hash's field names (TypeScript and Lua use FIELDS), its parsing and its serialisation;
 * other services read its fields through it (libs/metrics the partition, for the headroom gauge).
 */

export const KEY = AGGREGATOR_STATE_KEY;

/**
 * The fields of `aggregating_consumer_state`, named once: the seed's four (`current_stream_key`,
 * `last_message_id`, `current_hourly_total`, `current_hourly_count`) and this project's additions.
 * Lua scripts get them from here. `left:<partition>` fields hold the marks of partitions left.
 */
export const FIELDS = {
  /** The partition the aggregator reads. */
  streamKey: 'current_stream_key',
  /** The last entry of that partition folded in. */
  lastId: 'last_message_id',
  total: 'current_hourly_total',
  count: 'current_hourly_count',
  hourStart: 'current_hour',
  min: 'current_hourly_min',
  max: 'current_hourly_max',
  /** The open hour's partial-hour reason (absent: no reading of it is known to be lost). */
  partial: 'current_hourly_partial',
  /** `<hour start ms> <reason>`: an hour whose beginning was lost, not open yet (see AggregatorState). */
  partialHour: 'partial_hour',
  publishedUntil: 'published_until_ms',
  earlyThrough: 'early_through',
  /** The id of the process that committed last (see SingleWriter). */
  writer: 'written_by',
  leftPrefix: 'left:',
} as const;
const F = FIELDS;

const WHOLE = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?(e[-+]\d+)?$/;

/** The hash fields: the seed's four, plus the open hour, its min/max and how far hours are published. */
export function serialize(state: AggregatorState): Record<string, string> {
  return {
    [F.streamKey]: state.streamKey,
    [F.lastId]: state.lastId,
    [F.total]: String(state.window.total),
    [F.count]: String(state.window.count),
    [F.hourStart]: String(state.window.hourStartMs),
    [F.min]: String(state.window.min),
    [F.max]: String(state.window.max),
    [F.publishedUntil]: String(state.publishedUntilMs),
    // Only while the open hour is marked (a commit deletes the field otherwise).
    ...(state.window.count > 0 && state.window.partial
      ? { [F.partial]: state.window.partial }
      : {}),
    ...(state.partialHour
      ? { [F.partialHour]: `${state.partialHour.hourStartMs} ${state.partialHour.reason}` }
      : {}),
    // Only moves forward once set (a reset writes a new hash).
    ...(state.earlyThrough ? { [F.earlyThrough]: state.earlyThrough } : {}),
    ...Object.fromEntries(
      Object.entries(state.left ?? {}).map(([key, id]) => [`${F.leftPrefix}${key}`, id]),
    ),
  };
}

/** Parses the saved hash, refusing anything missing or inconsistent rather than half-using it. */
export function parse(hash: Record<string, string>): AggregatorState {
  const fail = (field: string, why: string): never => {
    throw new CorruptStateError(
      `${AGGREGATOR_STATE_KEY} is corrupted: ${field} ${why}. Start the aggregator with a partition name (e.g. temps:20250101) to reset it.`,
    );
  };
  const number = (field: string, integer = false): number => {
    const raw = hash[field];
    if (raw === undefined || raw === '') return fail(field, 'is missing');
    const value = Number(raw);
    if (!(integer ? WHOLE : DECIMAL).test(raw) || !Number.isFinite(value)) {
      return fail(field, `is not ${integer ? 'a whole number' : 'a number'} ("${raw}")`);
    }
    return value;
  };

  const left: Record<string, string> = {};
  for (const [field, id] of Object.entries(hash)) {
    if (!field.startsWith(F.leftPrefix) || id === '') continue;
    const key = field.slice(F.leftPrefix.length);
    if (!isPartitionKey(key)) fail(field, 'does not name a partition');
    if (id !== '0' && !isEntryId(id)) fail(field, `is not an entry ID ("${id}")`);
    left[key] = id;
  }
  const earlyThrough = hash[F.earlyThrough] || null;
  if (earlyThrough !== null && !isEntryId(earlyThrough))
    fail(F.earlyThrough, `is not an entry ID ("${earlyThrough}")`);
  const pendingRaw = hash[F.partialHour] || null;
  const pending = pendingRaw === null ? null : /^(\d+) (\w+)$/.exec(pendingRaw);
  if (
    pendingRaw !== null &&
    (!pending ||
      Number(pending[1]) % HOUR_MS !== 0 ||
      !PARTIAL_HOUR_REASONS.includes(pending[2] as PartialHourReason))
  ) {
    fail(F.partialHour, `is not an hour's start and a partial-hour reason ("${pendingRaw}")`);
  }
  const withLeft = (state: AggregatorState): AggregatorState => ({
    ...state,
    ...(pending
      ? {
          partialHour: {
            hourStartMs: Number(pending[1]),
            reason: pending[2] as PartialHourReason,
          },
        }
      : {}),
    ...(Object.keys(left).length > 0 ? { left } : {}),
    ...(earlyThrough !== null ? { earlyThrough } : {}),
  });

  const streamKey = hash[F.streamKey];
  if (streamKey === undefined) fail(F.streamKey, 'is missing');
  if (!isPartitionKey(streamKey)) fail(F.streamKey, `is not a partition name ("${streamKey}")`);
  const lastId = hash[F.lastId];
  if (lastId === undefined) fail(F.lastId, 'is missing');
  if (lastId !== '0' && !isEntryId(lastId)) fail(F.lastId, `is not an entry ID ("${lastId}")`);

  // Absent from a hash the exercise's own code wrote: nothing is known to be published then.
  const publishedUntilMs =
    hash[F.publishedUntil] === undefined ? 0 : number(F.publishedUntil, true);
  if (publishedUntilMs < 0 || publishedUntilMs % HOUR_MS !== 0) {
    fail(F.publishedUntil, 'is not the start of an hour');
  }
  const count = number(F.count, true);
  if (count < 0) fail(F.count, 'is negative');
  const total = number(F.total);
  if (count === 0) return withLeft({ streamKey, lastId, window: EMPTY_WINDOW, publishedUntilMs });

  const hourStartMs = number(F.hourStart, true);
  if (hourStartMs % HOUR_MS !== 0) fail(F.hourStart, 'is not the start of an hour');
  const min = number(F.min);
  const max = number(F.max);
  // Sums of decimal readings drift in the last bits: allow for rounding, not for nonsense.
  const slack = 1e-9 * Math.max(1, Math.abs(total));
  if (min > max || total < min * count - slack || total > max * count + slack) {
    fail(F.total, 'does not fit its count, min and max');
  }
  const partial = hash[F.partial] || undefined;
  if (partial !== undefined && !PARTIAL_HOUR_REASONS.includes(partial as PartialHourReason)) {
    fail(F.partial, `is not a partial-hour reason ("${partial}")`);
  }
  return withLeft({
    streamKey,
    lastId,
    window: {
      hourStartMs,
      total,
      count,
      min,
      max,
      ...(partial ? { partial: partial as PartialHourReason } : {}),
    },
    publishedUntilMs,
  });
}

export type Field = (typeof FIELDS)[keyof typeof FIELDS];
