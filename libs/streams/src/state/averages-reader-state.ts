import { CorruptStateError } from '../corrupt-state-error';
import { isEntryId } from '../entry-id';
import { AVERAGES_READER_STATE_KEY } from '../keys';

/**
 * `averages_consumer_state`: where the averages reader is in temps:averages. The exercise's own
 * reader writes `last_message_id` only; this project adds `last_seq` and `written_by`. This module
 * owns the hash's field names (TypeScript and Lua use FIELDS), its parsing and its serialisation.
 */

export const KEY = AVERAGES_READER_STATE_KEY;

export const FIELDS = {
  /** The last temps:averages entry handled ('0' or '0-0' before the first; seed field name). */
  lastMessageId: 'last_message_id',
  /** Its `seq`; absent when not known (state the exercise's own reader wrote, seq-less averages). */
  lastSeq: 'last_seq',
  /** The id of the process that saved last (see SingleWriter). */
  writtenBy: 'written_by',
} as const;

export type Field = (typeof FIELDS)[keyof typeof FIELDS];

/** The position before the first average. */
export const START = '0';

export interface Position {
  /** The last temps:averages entry handled (START before the first). */
  lastId: string;
  /**
   * Its `seq`: how many averages the reader has seen or knows it missed. Null when unknown: the
   * state was written without `last_seq` (as the exercise's reader writes it) and not resolved yet.
   */
  lastSeq: number | null;
}

export interface Saved extends Position {
  /** Who saved it (null: not this project's reader, or set back by a start over). */
  writtenBy: string | null;
}

/** Whether `id` is the position before the first entry ('0' as saved here, '0-0' as written by others). */
export function isStart(id: string): boolean {
  return id === START || id === '0-0';
}

/** The hash's fields for `position`; `last_seq` only when known. */
export function serialize(position: Position): Record<string, string> {
  return {
    [FIELDS.lastMessageId]: position.lastId,
    ...(position.lastSeq === null ? {} : { [FIELDS.lastSeq]: String(position.lastSeq) }),
  };
}

/**
 * The saved position in `hash` (HGETALL). Without `last_seq` the seq is known only at the start
 * (nothing read: 0); elsewhere it is null for the reader to resolve. CorruptStateError naming the
 * field when it cannot be what a reader wrote.
 */
export function parse(hash: Record<string, string>): Saved {
  const lastId = hash[FIELDS.lastMessageId];
  if (lastId === undefined || (lastId !== START && !isEntryId(lastId))) {
    throw new CorruptStateError(
      `${KEY}.${FIELDS.lastMessageId} is missing or not an entry ID ("${lastId ?? ''}"); delete the key or restart the consumers with a partition name.`,
    );
  }
  const rawSeq = hash[FIELDS.lastSeq];
  if (rawSeq !== undefined && !/^\d+$/.test(rawSeq)) {
    throw new CorruptStateError(`${KEY}.${FIELDS.lastSeq} is not a whole number ("${rawSeq}").`);
  }
  return {
    lastId,
    lastSeq: rawSeq !== undefined ? Number(rawSeq) : isStart(lastId) ? 0 : null,
    writtenBy: hash[FIELDS.writtenBy] ?? null,
  };
}
