import type { RedisKey, Result } from 'ioredis';
import {
  GUARD_POSITION_LUA,
  LAST_GENERATED_ID_LUA,
  MS_OF_LUA,
  RefusalCode,
  positionGuard,
  type ScriptCommand,
} from '@temps/redis';
import { AggregatorStateHash, ProducerStateHash } from '@temps/streams';

const F = AggregatorStateHash.FIELDS;

/**
 * Lua: `add_averages(averages, maxlen, first)` adds the averages given in ARGV from index
 * `first` (each as its ID, its field count m and m field/value pairs) to temps:averages, capped at
 * `maxlen`. An average whose hour is already there (by its date and hour fields, whoever wrote it) is
 * not added again; its ID derives from the hour, or follows the top entry when an average with a
 * later ID is there (the exercise's reference aggregator uses wall-clock IDs). Each average also gets
 * `seq`, its number in the stream (the newest average's `seq` + 1), so a reader can tell how many
 * averages the MAXLEN cap trimmed away before it read them. Returns the number added, or nil and a
 * FOREIGN_ENTRY refusal (before anything is written) when someone else's entry is on top of the
 * stream at or after an average's hour. Needs MS_OF_LUA and LAST_GENERATED_ID_LUA.
 */
export const ADD_AVERAGES_LUA = `
local function add_averages(averages, maxlen, first)
  -- An hourly average, whoever wrote it (this aggregator, or the exercise's reference one, whose
  -- IDs are wall-clock times): the start of its hour in ms from its date and hour fields, and its
  -- seq (nil when it has none); nil for an entry that is not an average.
  local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
    return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
  end
  local function average_of(entry)
    local f, date, hour, avg, obs, seq = entry[2]
    for k = 1, #f, 2 do
      local name = f[k]
      if name == 'date' then date = f[k + 1]
      elseif name == 'hour' then hour = f[k + 1]
      elseif name == 'average_temp_f' then avg = f[k + 1]
      elseif name == 'num_observations' then obs = f[k + 1]
      elseif name == 'seq' then seq = tonumber(f[k + 1]) end
    end
    if not (date and hour and avg and obs) then return nil end
    local y, m, d = string.match(date, '^(%d%d%d%d)/(%d%d)/(%d%d)$')
    local h = string.match(hour, '^(%d%d?)$')
    if not (y and h and tonumber(h) < 24) then return nil end
    return days_from_civil(tonumber(y), tonumber(m), tonumber(d)) * 86400000 + tonumber(h) * 3600000, seq
  end

  -- The newest entries: the top decides where averages can go; the newest average says which hours
  -- are there already; the newest seq gives the next (counted from averages only, so entries others
  -- added never open a gap in the numbering).
  local recent = redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 1)
  if recent[1] and not select(2, average_of(recent[1])) then
    recent = redis.call('XREVRANGE', averages, '+', '-', 'COUNT', 100)
  end
  local top = recent[1]
  local topMs = top and ms_of(top[1]) or -1
  local topIsAverage = top == nil or average_of(top) ~= nil
  local newestHour, seq
  for _, entry in ipairs(recent) do
    local hourMs, n = average_of(entry)
    if hourMs and not newestHour then newestHour = hourMs end
    if n and not seq then seq = n end
    if newestHour and seq then break end
  end
  newestHour, seq = newestHour or -1, seq or 0
  local lastGenerated = last_generated_id(averages)
  local lastGeneratedMs = lastGenerated and ms_of(lastGenerated) or -1
  local added = 0
  local i = first
  while i <= #ARGV do
    local id, count = ARGV[i], tonumber(ARGV[i + 1])
    local hourMs = ms_of(id)
    if hourMs > newestHour then
      if hourMs <= topMs and not topIsAverage then
        return nil, '${RefusalCode.ForeignEntry} ' .. averages .. ' ends with entry ' .. top[1] .. ', which is not an hourly average, at or after the average for ' .. id .. '; delete it (XDEL) to let the aggregator go on'
      end
      -- The ID derives from the hour, unless an average with a later ID (the reference aggregator's
      -- wall-clock IDs) is on top: then the next ID after it.
      local xid = hourMs > topMs and id or string.format('%d-*', topMs)
      local xms = hourMs > topMs and hourMs or topMs
      if xms < lastGeneratedMs or (xid == id and xms == lastGeneratedMs) then
        -- Only deleted entries were beyond the top: bring the ID counter back to what the stream holds.
        redis.call('XSETID', averages, top and top[1] or '0-0')
        lastGeneratedMs = -1
      end
      local args = { 'XADD', averages, 'MAXLEN', '=', maxlen, xid }
      for j = i + 2, i + 1 + 2 * count do args[#args + 1] = ARGV[j] end
      seq = seq + 1
      args[#args + 1] = 'seq'
      args[#args + 1] = tostring(seq)
      local written = redis.call(unpack(args))
      topMs, newestHour, topIsAverage = ms_of(written), hourMs, true
      added = added + 1
    end
    i = i + 2 + 2 * count
  end
  return added
end
`;

/**
 * The single-writer guard: the saved cursor, and who saved it, must still be the ones the step
 * started from (two aggregators at the same cursor cannot both commit).
 */
export const COMMIT_GUARD = positionGuard([F.streamKey, F.lastId, F.writer], {
  key: 'KEYS[1]',
  firstArg: 1,
  writer: 'aggregator',
});

/**
 * Commits one step of the aggregator atomically: the hourly averages it closed and its new cursor
 * and running totals. Nothing is written unless the saved cursor is still the one this step started
 * from, so a step is applied exactly once even if it is retried or another aggregator interferes.
 * Averages are added as ADD_AVERAGES_LUA says (each hour once, whoever wrote it; `seq`; an entry
 * someone else put on top is refused with FOREIGN_ENTRY before anything is written).
 *
 * KEYS[1] aggregating_consumer_state   KEYS[2] temps:averages   KEYS[3] producer_state
 * ARGV[1] expected current_stream_key  ARGV[2] expected last_message_id
 * ARGV[3] expected written_by ('' when the state has none)   ARGV[4] MAXLEN
 * ARGV[5] number of state field/value pairs (n), then the pairs, then the averages, each as
 *         its ID, its field count (m) and m field/value pairs.
 * Returns { averages added, producer watermark or false }. Refuses, writing nothing, through the
 * single-writer guard (STATE_GONE: no saved state; STALE_STATE: the saved cursor or writer is not
 * ARGV[1..3]) or with FOREIGN_ENTRY (RefusalCode).
 */
export const COMMIT_AGGREGATION: ScriptCommand = {
  name: 'commitAggregation',
  numberOfKeys: 3,
  lua: `
${GUARD_POSITION_LUA}
${MS_OF_LUA}
${LAST_GENERATED_ID_LUA}
${ADD_AVERAGES_LUA}
local state, averages, producer = KEYS[1], KEYS[2], KEYS[3]
${COMMIT_GUARD.call}

local pairs = tonumber(ARGV[5])
local fields = {}
for i = 6, 5 + 2 * pairs do fields[#fields + 1] = ARGV[i] end

local added, refused = add_averages(averages, ARGV[4], 6 + 2 * pairs)
if not added then return redis.error_reply(refused) end

redis.call('HSET', state, unpack(fields))
-- A field given an empty value is one the state no longer keeps (a left partition dropped).
for k = 1, #fields, 2 do
  if fields[k + 1] == '' then redis.call('HDEL', state, fields[k]) end
end
local watermark = redis.call('HGET', producer, '${ProducerStateHash.FIELDS.watermarkMs}')
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
