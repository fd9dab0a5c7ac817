import { RedisOutOfMemoryError, ScriptRefusalError, typedRedisError } from './script-errors';
import { transientCause } from './transient-errors';

/**
 * How a caller treats a failure from Redis — the one classification, by type:
 * - `transient`: Redis refused for a while and clears by itself (TransientCode in
 *   transient-errors.ts: MISCONF, BUSY, READONLY, LOADING, MASTERDOWN, TRYAGAIN, CLUSTERDOWN,
 *   NOREPLICAS, UNBLOCKED): nothing was applied; wait (back-off) and send it again.
 * - `refusal`: a script refused this write (ScriptRefusalError: STALE_STATE, STATE_GONE,
 *   FOREIGN_KEY, FOREIGN_ENTRY) or Redis is full (OOM: RedisOutOfMemoryError). The caller
 *   decides by the type: these do not clear by waiting alone (OOM may, as keys expire, which the
 *   producer waits for).
 * - `fatal`: anything else — a reply no wait will change (ERR, WRONGTYPE, NOPERM, NOAUTH,
 *   WRONGPASS, CROSSSLOT, MOVED/ASK on a plain client, EXECABORT not caused by a transient
 *   refusal, NOSCRIPT, which ioredis answers itself by sending the script) or not a reply at all.
 */
export type RedisErrorClass = 'transient' | 'refusal' | 'fatal';

/** The class of a failure from Redis, typed or as ioredis raised it (see RedisErrorClass). */
export function classifyRedisError(error: unknown): RedisErrorClass {
  if (transientCause(error)) return 'transient';
  const typed = typedRedisError(error);
  if (typed instanceof ScriptRefusalError || typed instanceof RedisOutOfMemoryError) {
    return 'refusal';
  }
  return 'fatal';
}
