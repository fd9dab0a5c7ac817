import type { RedisKey, Result } from 'ioredis';
import {
  GUARD_POSITION_LUA,
  LAST_GENERATED_ID_LUA,
  MS_OF_LUA,
  positionGuard,
  type ScriptCommand,
} from '@temps/redis';
import { LanesAggregatorStateHash } from '@temps/streams';
import { ADD_AVERAGES_LUA } from './commit-aggregation.lua';

const F = LanesAggregatorStateHash.FIELDS;

/**
 * The single-writer guard of the lanes state: the commit count and who committed last must still be
 * the ones the step started from.
 */
export const COMMIT_LANES_GUARD = positionGuard([F.step, F.writer], {
  key: 'KEYS[1]',
  firstArg: 1,
  writer: 'aggregator',
});

/**
 * Commits one step of the lanes aggregator atomically: the hours every lane has settled, merged
 * (ADD_AVERAGES_LUA: each hour once, `seq`, FOREIGN_ENTRY), and the new state — the stepping lane's
 * cursor and open hour, every lane's pending hours, the commit count. Both keys share the slot of
 * temps:averages, so this stays one atomic step on a Redis Cluster.
 *
 * KEYS[1] aggregating_consumer_state{temps:averages}   KEYS[2] temps:averages
 * ARGV[1] expected step   ARGV[2] expected written_by   ARGV[3] MAXLEN
 * ARGV[4] number of state field/value pairs (n), then the pairs (an empty value deletes the field),
 *         then the averages, each as its ID, its field count (m) and m field/value pairs.
 * Returns the number of averages added. Refuses, writing nothing, through the single-writer guard
 * (STATE_GONE, STALE_STATE) or with FOREIGN_ENTRY (RefusalCode).
 */
export const COMMIT_LANES: ScriptCommand = {
  name: 'commitLanes',
  numberOfKeys: 2,
  lua: `
${GUARD_POSITION_LUA}
${MS_OF_LUA}
${LAST_GENERATED_ID_LUA}
${ADD_AVERAGES_LUA}
local state, averages = KEYS[1], KEYS[2]
${COMMIT_LANES_GUARD.call}
local pairs = tonumber(ARGV[4])
local added, refused = add_averages(averages, ARGV[3], 5 + 2 * pairs)
if not added then return redis.error_reply(refused) end
local fields, gone = {}, {}
for i = 5, 4 + 2 * pairs, 2 do
  if ARGV[i + 1] == '' then
    gone[#gone + 1] = ARGV[i]
  else
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
end
redis.call('HSET', state, unpack(fields))
if #gone > 0 then redis.call('HDEL', state, unpack(gone)) end
return added
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See COMMIT_LANES: `args` are its ARGV. Resolves to the number of averages added. */
    commitLanes(
      state: RedisKey,
      averages: RedisKey,
      ...args: (string | number)[]
    ): Result<number, Context>;
  }
}
