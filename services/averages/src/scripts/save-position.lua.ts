import type { RedisKey, Result } from 'ioredis';
import { GUARD_POSITION_LUA, positionGuard, type ScriptCommand } from '@temps/redis';
import { AveragesReaderStateHash } from '@temps/streams';

const F = AveragesReaderStateHash.FIELDS;

/** The saved position is still the one the reader read from: ARGV[1] expected last_message_id. */
export const SAVE_POSITION_GUARD = positionGuard([F.lastMessageId], {
  key: 'KEYS[1]',
  firstArg: 1,
  writer: 'reader',
});

/**
 * Moves the averages reader's saved position, only if it is still the one the reader read from: a
 * position from memory never overwrites one someone else saved (the single-writer guard,
 * GUARD_POSITION_LUA).
 *
 * KEYS[1] averages reader state hash   ARGV[1] expected last_message_id   ARGV[2] new last_message_id
 * ARGV[3] new last_seq ('' when not known: the field is removed)
 * ARGV[4] this process's id (saved as written_by)
 * Returns 1. Refuses with STATE_GONE (no state) or STALE_STATE (RefusalCode), writing nothing.
 */
export const SAVE_POSITION: ScriptCommand = {
  name: 'saveReaderPosition',
  numberOfKeys: 1,
  lua: `
${GUARD_POSITION_LUA}
${SAVE_POSITION_GUARD.call}
redis.call('HSET', KEYS[1], '${F.lastMessageId}', ARGV[2], '${F.writtenBy}', ARGV[4])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], '${F.lastSeq}')
else
  redis.call('HSET', KEYS[1], '${F.lastSeq}', ARGV[3])
end
return 1
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See SAVE_POSITION. Resolves to 1; rejects with the guard's refusal. */
    saveReaderPosition(
      state: RedisKey,
      fromId: string,
      toId: string,
      toSeq: string,
      writer: string,
    ): Result<number, Context>;
  }
}
