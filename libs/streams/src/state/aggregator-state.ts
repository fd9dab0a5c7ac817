import { AGGREGATOR_STATE_KEY } from '../keys';

/**
 * `aggregating_consumer_state`: the aggregating consumer's cursor and running totals (seed field
 * names). Only the key and the field names other services read are here so far; the aggregator's
 * own module (its Position type, parse, serialize, as in producer-state.ts and
 * averages-reader-state.ts) completes it.
 */

export const KEY = AGGREGATOR_STATE_KEY;

export const FIELDS = {
  /** The partition the aggregator reads (libs/metrics reads it for the headroom gauge). */
  currentStreamKey: 'current_stream_key',
  /** The last entry of that partition folded in (seed field name). */
  lastMessageId: 'last_message_id',
  /** The id of the process that committed last (see SingleWriter). */
  writtenBy: 'written_by',
} as const;

export type Field = (typeof FIELDS)[keyof typeof FIELDS];
