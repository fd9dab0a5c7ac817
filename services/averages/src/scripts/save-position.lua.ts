import type { RedisKey, Result } from 'ioredis';
import type { ScriptCommand } from '@temps/redis';

/**
 * Moves the averages reader's saved position, only if it is still the one the reader read from: a
 * position from memory never overwrites one someone else saved.
 *
 * KEYS[1] averages reader state hash   ARGV[1] expected last_message_id   ARGV[2] new last_message_id
 * ARGV[3] new last_seq                 ARGV[4] this process's id (saved as written_by)
 * Returns { 'saved', false }, { 'gone', false } (no state) or { 'moved', written_by of the saved
 * state, or false }.
 */
export const SAVE_POSITION: ScriptCommand = {
  name: 'saveReaderPosition',
  numberOfKeys: 1,
  lua: `
local saved = redis.call('HMGET', KEYS[1], 'last_message_id', 'written_by')
if not saved[1] then return { 'gone', false } end
if saved[1] ~= ARGV[1] then return { 'moved', saved[2] } end
redis.call('HSET', KEYS[1], 'last_message_id', ARGV[2], 'last_seq', ARGV[3], 'written_by', ARGV[4])
return { 'saved', false }
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See SAVE_POSITION. Resolves to [outcome, the saved state's writer or null]. */
    saveReaderPosition(
      state: RedisKey,
      fromId: string,
      toId: string,
      toSeq: string,
      writer: string,
    ): Result<['saved' | 'gone' | 'moved', string | null], Context>;
  }
}
