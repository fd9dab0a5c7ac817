import { ReplyError } from 'ioredis';
import { RedisTransientError, isTransientCode } from './transient-errors';

/**
 * Why a script refused to write: the first word of its error reply, as in
 * `redis.error_reply('STALE_STATE ' .. why)`. Scripts interpolate these values into their Lua, so
 * each code is spelled here only. The two single-writer refusals come from one place,
 * GUARD_POSITION_LUA (scripts/position-guard.ts).
 */
export enum RefusalCode {
  /**
   * A saved position is not the one the caller read (another writer, a start over, or the caller's
   * own write applied already): a compare-and-set refused.
   */
  StaleState = 'STALE_STATE',
  /** The state hash a script advances is gone. */
  StateGone = 'STATE_GONE',
  /** A key a script writes holds another type than a stream. */
  ForeignKey = 'FOREIGN_KEY',
  /** A stream a script writes holds an entry it did not write where it would write. */
  ForeignEntry = 'FOREIGN_ENTRY',
  /**
   * A lane's fencing token is not the caller's: another producer took the lane since (the caller's
   * lease lapsed), so the caller no longer writes it.
   */
  Fenced = 'FENCED',
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

/** The lane's holder changed: the caller's lease lapsed and another producer took the lane. */
export class FencedError extends ScriptRefusalError {
  override name = 'FencedError';
  readonly code = RefusalCode.Fenced;
}

/** Redis refused a write for lack of memory (its own `OOM` reply: maxmemory with noeviction). */
export class RedisOutOfMemoryError extends Error {
  override name = 'RedisOutOfMemoryError';
}

type ErrorType = new (message: string, options?: ErrorOptions) => Error;

const REFUSALS: Record<RefusalCode, ErrorType> = {
  [RefusalCode.StaleState]: StaleStateError,
  [RefusalCode.StateGone]: StateGoneError,
  [RefusalCode.ForeignKey]: ForeignKeyError,
  [RefusalCode.ForeignEntry]: ForeignEntryError,
  [RefusalCode.Fenced]: FencedError,
};

/** Typed errors by the leading code word of an error reply: the scripts' codes and Redis's own OOM. */
const TYPED = new Map<string, ErrorType>([
  ...Object.entries(REFUSALS),
  ['OOM', RedisOutOfMemoryError],
]);

/**
 * The typed error for an error reply from Redis, by its leading code word: a script's refusal
 * (RefusalCode), one of Redis's own (OOM), or a refusal that clears by itself
 * (RedisTransientError, TransientCode). Anything else is returned as it is. The one place that
 * reads the text of an error reply; the original stays as `cause`. A refusal raised with error()
 * keeps its text: the ` script: <sha>, on @user_script:<line>.` Redis appends is dropped.
 */
export function typedRedisError(error: unknown): unknown {
  if (!(error instanceof ReplyError)) return error;
  const { message } = error as Error;
  const code = message.split(' ', 1)[0];
  if (isTransientCode(code)) return new RedisTransientError(message, { cause: error });
  const Type = TYPED.get(code);
  return Type ? new Type(message.replace(RAISED_BY, ''), { cause: error }) : error;
}

/**
 * What Redis 7 appends to an error reply a script raised with `error(redis.error_reply(...))`
 * (as GUARD_POSITION_LUA does): not part of the refusal.
 */
const RAISED_BY = / script: [0-9a-f]{40}, on @user_script:\d+\.$/;

/** `reply`, its error reply (if any) turned into its typed error (see `typedRedisError`). */
export async function withTypedErrors<T>(reply: Promise<T>): Promise<T> {
  try {
    return await reply;
  } catch (error) {
    throw typedRedisError(error);
  }
}
