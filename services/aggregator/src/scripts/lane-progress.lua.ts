import type { RedisKey, Result } from 'ioredis';
import type { ScriptCommand } from '@temps/redis';
import { LaneStateHash } from '@temps/streams';

const S = LaneStateHash.FIELDS;

/**
 * One look at a lane, atomic in the lane's slot: its watermark and confirmed mark, its partition's
 * type, and the partition's newest entry below the confirmed mark (all of it without one). Both keys
 * in one script, so while a reshard moves the slot's keys one by one Redis answers TRYAGAIN (retried)
 * rather than a partition missing beside a lane state present.
 *
 * KEYS[1] the lane state   KEYS[2] the lane's current partition
 * Returns { watermark_ms or false, confirmed_ms or false, the partition's type, newest ID or false }.
 */
export const LANE_PROGRESS: ScriptCommand = {
  name: 'laneProgress',
  numberOfKeys: 2,
  lua: `#!lua flags=no-writes
local marks = redis.call('HMGET', KEYS[1], '${S.watermarkMs}', '${S.confirmedMs}')
local kind = redis.call('TYPE', KEYS[2])['ok']
local newest = false
if kind == 'stream' then
  local before = marks[2] and ('(' .. marks[2] .. '-0') or '+'
  local top = redis.call('XREVRANGE', KEYS[2], before, '-', 'COUNT', 1)[1]
  if top then newest = top[1] end
end
return { marks[1], marks[2], kind, newest }
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See LANE_PROGRESS. */
    laneProgress(
      state: RedisKey,
      partition: RedisKey,
    ): Result<[string | null, string | null, string, string | null], Context>;
  }
}
