import { ReplyError } from 'ioredis';

/**
 * Why a script refused to write: the first word of its error reply, as in
 * `redis.error_reply('STALE_STATE ' .. why)`. Scripts interpolate these values into their Lua, so
 * each code is spelled here only.
 */
export enum RefusalCode {
  /** The aggregator's saved cursor is not the one the step started from. */
  StaleState = 'STALE_STATE',
  /** The producer's state hash is gone. */
  StateGone = 'STATE_GONE',
  /** The producer's state hash holds another run. */
  StaleRun = 'STALE_RUN',
  /** A batch does not start at the producer's saved position. */
  PositionMismatch = 'POSITION_MISMATCH',
  /** A key a script writes holds another type than a stream. */
  ForeignKey = 'FOREIGN_KEY',
  /** A stream a script writes holds an entry it did not write where it would write. */
  ForeignEntry = 'FOREIGN_ENTRY',
}

/**
 * A script refused and wrote nothing. `message` is the script's reply as Redis sent it (code
 * first); `detail` is the same without the code: what stood in the way, in words.
 */
export abstract class ScriptRefusalError extends Error {
  abstract readonly code: RefusalCode;
  readonly detail: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.detail = message.slice(message.indexOf(' ') + 1);
  }
}

/** The saved state moved on since it was read (a compare-and-set refused). */
export class StaleStateError extends ScriptRefusalError {
  override name = 'StaleStateError';
  readonly code = RefusalCode.StaleState;
}

/** The state the script advances disappeared from Redis. */
export class StateGoneError extends ScriptRefusalError {
  override name = 'StateGoneError';
  readonly code = RefusalCode.StateGone;
}

/** The state the script advances now belongs to another run. */
export class StaleRunError extends ScriptRefusalError {
  override name = 'StaleRunError';
  readonly code = RefusalCode.StaleRun;
}

/** The write does not start where the saved position says (already applied, or another writer). */
export class PositionMismatchError extends ScriptRefusalError {
  override name = 'PositionMismatchError';
  readonly code = RefusalCode.PositionMismatch;
}

/** Someone else's data is where the script must write: a key or an entry. */
export abstract class ForeignDataError extends ScriptRefusalError {}

/** A key the script writes is not a stream. */
export class ForeignKeyError extends ForeignDataError {
  override name = 'ForeignKeyError';
  readonly code = RefusalCode.ForeignKey;
}

/** A stream the script writes holds an entry it did not write, at or after where it writes. */
export class ForeignEntryError extends ForeignDataError {
  override name = 'ForeignEntryError';
  readonly code = RefusalCode.ForeignEntry;
}

/** Redis refused a write for lack of memory (its own `OOM` reply: maxmemory with noeviction). */
export class RedisOutOfMemoryError extends Error {
  override name = 'RedisOutOfMemoryError';
}

type ErrorType = new (message: string, options?: ErrorOptions) => Error;

const REFUSALS: Record<RefusalCode, ErrorType> = {
  [RefusalCode.StaleState]: StaleStateError,
  [RefusalCode.StateGone]: StateGoneError,
  [RefusalCode.StaleRun]: StaleRunError,
  [RefusalCode.PositionMismatch]: PositionMismatchError,
  [RefusalCode.ForeignKey]: ForeignKeyError,
  [RefusalCode.ForeignEntry]: ForeignEntryError,
};

/** Typed errors by the leading code word of an error reply: the scripts' codes and Redis's own OOM. */
const TYPED = new Map<string, ErrorType>([
  ...Object.entries(REFUSALS),
  ['OOM', RedisOutOfMemoryError],
]);

/**
 * The typed error for an error reply from Redis, by its leading code word: a script's refusal
 * (RefusalCode) or one of Redis's own (OOM). Anything else is returned as it is. The one place that
 * reads the text of an error reply; the original stays as `cause`.
 */
export function typedRedisError(error: unknown): unknown {
  if (!(error instanceof ReplyError)) return error;
  const { message } = error as Error;
  const Type = TYPED.get(message.split(' ', 1)[0]);
  return Type ? new Type(message, { cause: error }) : error;
}

/** `reply`, its error reply (if any) turned into its typed error (see `typedRedisError`). */
export async function withTypedErrors<T>(reply: Promise<T>): Promise<T> {
  try {
    return await reply;
  } catch (error) {
    throw typedRedisError(error);
  }
}
