import type { RedisKey, Result } from 'ioredis';
import type { ScriptCommand } from './script-command';

/**
 * Creates a hash only if the key does not exist: a first state saved by one of several processes
 * starting at once, never over one already there.
 *
 * KEYS[1] the hash   ARGV field/value pairs.   Returns 1 if it wrote the hash, 0 if the key existed.
 */
export const HSET_IF_ABSENT: ScriptCommand = {
  name: 'hsetIfAbsent',
  numberOfKeys: 1,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** HSET of `fieldsAndValues` on `key`, only if `key` does not exist: 1 if written, 0 if not. */
    hsetIfAbsent(key: RedisKey, ...fieldsAndValues: (string | number)[]): Result<number, Context>;
  }
}
