import { CorruptStateError } from '@temps/redis';
import {
  AGGREGATOR_STATE_KEY,
  EMPTY_WINDOW,
  HOUR_MS,
  isEntryId,
  isPartitionKey,
  type WindowState,
} from '@temps/streams';

/** Where the aggregator stands: its cursor (partition and last entry read there) and its open hour. */
export interface AggregatorState {
  streamKey: string;
  /** '0' before the first entry of the partition. */
  lastId: string;
  window: WindowState;
  /** Unix ms: every hour before it is published; a reading before it is `late` (0: none yet). */
  publishedUntilMs: number;
  /**
   * Partitions left behind, each with the last entry ID read there ('0': skipped unread), so that
   * entries written there afterwards are counted as `late`. Saved as `left:<partition>` fields.
   */
  left?: Readonly<Record<string, string>>;
}

/** Left partitions whose late entries are still watched: the most recent ones. */
export const LEFT_PARTITIONS_KEPT = 31;

/** `left` with `key` marked at `lastId`, keeping the LEFT_PARTITIONS_KEPT most recent partitions. */
export function leaveMark(
  left: Readonly<Record<string, string>> | undefined,
  marks: Record<string, string>,
): Record<string, string> {
  const all = { ...left, ...marks };
  const kept = Object.keys(all).sort().slice(-LEFT_PARTITIONS_KEPT);
  return Object.fromEntries(kept.map((key) => [key, all[key]]));
}

const WHOLE = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?(e[-+]\d+)?$/;

export function initialState(streamKey: string): AggregatorState {
  return { streamKey, lastId: '0', window: EMPTY_WINDOW, publishedUntilMs: 0 };
}

/** The hash fields: the seed's four, plus the open hour, its min/max and how far hours are published. */
export function serializeState(state: AggregatorState): Record<string, string> {
  return {
    current_stream_key: state.streamKey,
    last_message_id: state.lastId,
    current_hourly_total: String(state.window.total),
    current_hourly_count: String(state.window.count),
    current_hour: String(state.window.hourStartMs),
    current_hourly_min: String(state.window.min),
    current_hourly_max: String(state.window.max),
    published_until_ms: String(state.publishedUntilMs),
    ...Object.fromEntries(Object.entries(state.left ?? {}).map(([key, id]) => [`left:${key}`, id])),
  };
}

/** Parses the saved hash, refusing anything missing or inconsistent rather than half-using it. */
export function parseState(hash: Record<string, string>): AggregatorState {
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
    if (!field.startsWith('left:') || id === '') continue;
    const key = field.slice('left:'.length);
    if (!isPartitionKey(key)) fail(field, 'does not name a partition');
    if (id !== '0' && !isEntryId(id)) fail(field, `is not an entry ID ("${id}")`);
    left[key] = id;
  }
  const withLeft = (state: AggregatorState): AggregatorState =>
    Object.keys(left).length > 0 ? { ...state, left } : state;

  const streamKey = hash.current_stream_key;
  if (streamKey === undefined) fail('current_stream_key', 'is missing');
  if (!isPartitionKey(streamKey))
    fail('current_stream_key', `is not a partition name ("${streamKey}")`);
  const lastId = hash.last_message_id;
  if (lastId === undefined) fail('last_message_id', 'is missing');
  if (lastId !== '0' && !isEntryId(lastId))
    fail('last_message_id', `is not an entry ID ("${lastId}")`);

  // Absent from a hash the exercise's own code wrote: nothing is known to be published then.
  const publishedUntilMs =
    hash.published_until_ms === undefined ? 0 : number('published_until_ms', true);
  if (publishedUntilMs < 0 || publishedUntilMs % HOUR_MS !== 0) {
    fail('published_until_ms', 'is not the start of an hour');
  }
  const count = number('current_hourly_count', true);
  if (count < 0) fail('current_hourly_count', 'is negative');
  const total = number('current_hourly_total');
  if (count === 0) return withLeft({ streamKey, lastId, window: EMPTY_WINDOW, publishedUntilMs });

  const hourStartMs = number('current_hour', true);
  if (hourStartMs % HOUR_MS !== 0) fail('current_hour', 'is not the start of an hour');
  const min = number('current_hourly_min');
  const max = number('current_hourly_max');
  // Sums of decimal readings drift in the last bits: allow for rounding, not for nonsense.
  const slack = 1e-9 * Math.max(1, Math.abs(total));
  if (min > max || total < min * count - slack || total > max * count + slack) {
    fail('current_hourly_total', 'does not fit its count, min and max');
  }
  return withLeft({
    streamKey,
    lastId,
    window: { hourStartMs, total, count, min, max },
    publishedUntilMs,
  });
}
