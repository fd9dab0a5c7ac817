import type { RedisKey, Result } from 'ioredis';
import { LAST_GENERATED_ID_LUA, MS_OF_LUA, RefusalCode, type ScriptCommand } from '@temps/redis';

/**
 * Commits one step of the aggregator atomically: the hourly averages it closed and its new cursor
 * and running totals. Nothing is written unless the saved cursor is still the one this step started
 * from, so a step is applied exactly once even if it is retried or another aggregator interferes.
 * An average whose hour is already in temps:averages (its ID derives from the hour) is not added again.
 * Each average also gets `seq`, its number in the stream (the newest average's `seq` + 1), so a
 * reader can tell how many averages the MAXLEN cap trimmed away before it read them. An entry someone
 * else put on top of the stream, at or after an average's hour, is refused with FOREIGN_ENTRY
 * (before anything is written) rather than letting that average silently drop.
 *
 * KEYS[1] aggregating_consumer_state   KEYS[2] temps:averages   KEYS[3] producer_state
 * ARGV[1] expected current_stream_key  ARGV[2] expected last_message_id   ARGV[3] MAXLEN
 * ARGV[4] number of state field/value pairs (n), then the pairs, then the averages, each as
 *         its ID, its field count (m) and m field/value pairs.
 * Returns { averages added, producer watermark or false }. Refuses with STALE_STATE (the saved
 * cursor is not ARGV[1], ARGV[2]) or FOREIGN_ENTRY (RefusalCode).
 */
export const COMMIT_AGGREGATION: ScriptCommand = {
  name: 'commitAggregation',
  numberOfKeys: 3,
  lua: `
${MS_OF_LUA}
${LAST_GENERATED_ID_LUA}
local state, averages, producer = KEYS[1], KEYS[2], KEYS[3]
local saved = redis.call('HMGET', state, 'current_stream_key', 'last_message_id')
if saved[1] ~= ARGV[1] or saved[2] ~= ARGV[2] then
  return redis.error_reply('${RefusalCode.StaleState} aggregating_consumer_state moved on: expected ' .. ARGV[1] .. ' ' .. ARGV[2])
end

-- An entry this script wrote: ID at the start of an hour, sequence 0, with a numeric seq field.
local function seq_of_average(entry)
  local ms, n = string.match(entry[1], '^(%d+)-(%d+)$')
  if n ~= '0' or tonumber(ms) % 3600000 ~= 0 then return nil end
  for k = 1, #entry[2], 2 do
    if entry[2][k] == 'seq' then return tonumber(entry[2][k + 1]) end
  end
  return nil
end

-- The newest entries: the top decides where averages can go, the newest average gives the next
-- seq (counted from averages only, so entries others added never open a gap in the numbering).
local top = redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 1)[1]
local topMs = top and ms_of(top[1]) or -1
local seq = top and seq_of_average(top)
local topIsAverage = top == nil or seq ~= nil
if not seq then
  seq = 0
  for _, entry in ipairs(redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 100)) do
    local n = seq_of_average(entry)
    if n then seq = n break end
  end
end
local lastGenerated = last_generated_id(averages)
local lastGeneratedMs = lastGenerated and ms_of(lastGenerated) or -1

local pairs = tonumber(ARGV[4])
local fields = {}
for i = 5, 4 + 2 * pairs do fields[#fields + 1] = ARGV[i] end

local added = 0
local i = 5 + 2 * pairs
while i <= #ARGV do
  local id, count = ARGV[i], tonumber(ARGV[i + 1])
  if ms_of(id) <= topMs and not topIsAverage then
    return redis.error_reply('${RefusalCode.ForeignEntry} ' .. averages .. ' ends with entry ' .. top[1] .. ', which is not an hourly average, at or after the average for ' .. id .. '; delete it (XDEL) to let the aggregator go on')
  end
  if ms_of(id) > topMs then
    if ms_of(id) <= lastGeneratedMs then
      -- Only deleted entries were beyond the top: bring the ID counter back to what the stream holds.
      redis.call('XSETID', averages, top and top[1] or '0-0')
      lastGeneratedMs = -1
    end
    local args = { 'XADD', averages, 'MAXLEN', '=', ARGV[3], id }
    for j = i + 2, i + 1 + 2 * count do args[#args + 1] = ARGV[j] end
    seq = seq + 1
    args[#args + 1] = 'seq'
    args[#args + 1] = tostring(seq)
    redis.call(unpack(args))
    topMs = ms_of(id)
    added = added + 1
  end
  i = i + 2 + 2 * count
end

redis.call('HSET', state, unpack(fields))
-- A field given an empty value is one the state no longer keeps (a left partition dropped).
for k = 1, #fields, 2 do
  if fields[k + 1] == '' then redis.call('HDEL', state, fields[k]) end
end
local watermark = redis.call('HGET', producer, 'watermark_ms')
return { added, watermark }
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /**
     * See COMMIT_AGGREGATION: `args` are its ARGV. Resolves to [averages added, the producer's
     * watermark_ms or null].
     */
    commitAggregation(
      state: RedisKey,
      averages: RedisKey,
      producer: RedisKey,
      ...args: (string | number)[]
    ): Result<[number, string | null], Context>;
  }
}
