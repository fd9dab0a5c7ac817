/**
 * Writes one batch of readings into one partition, pushes the partition's expiry and advances the
 * producer's position, all or nothing: every check happens before the first write, and a script
 * cannot be interrupted half-way. A batch whose first reading is not where the saved position says
 * (already written, or another run took over) is refused without writing anything.
 *
 * KEYS[1] partition stream        KEYS[2] producer state hash
 * ARGV[1] run id                  ARGV[2] first reading (Unix ms)     ARGV[3] interval (ms)
 * ARGV[4] devices (n)             ARGV[5] expire at (real Unix ms)    ARGV[6] new watermark (ms)
 * ARGV[7] generator state (JSON)  ARGV[8] this process's id (saved as written_by)
 * ARGV[9 .. 8+n] device names when n > 1, then the temperatures, tick by tick, device by device.
 */
export const WRITE_BATCH_LUA = `
local partition, state = KEYS[1], KEYS[2]
local first, interval, devices = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local saved = redis.call('HMGET', state, 'run_id', 'watermark_ms')
if not saved[1] then
  return redis.error_reply('STATE_GONE ' .. state .. ' disappeared from Redis while the producer ran')
end
if saved[1] ~= ARGV[1] then
  return redis.error_reply('STALE_RUN ' .. state .. ' now holds run ' .. saved[1] .. ', not this producer run ' .. ARGV[1])
end
if tonumber(saved[2]) ~= first then
  return redis.error_reply('POSITION_MISMATCH batch starts at ' .. ARGV[2] .. ', saved position is ' .. tostring(saved[2]))
end

-- The partition must be a stream whose IDs end before this batch. Checked before the first XADD,
-- since a failing XADD would stop the script with part of the batch written.
local kind = redis.call('TYPE', partition)['ok']
if kind ~= 'none' then
  if kind ~= 'stream' then
    return redis.error_reply('FOREIGN_KEY ' .. partition .. ' is a ' .. kind .. ', not a stream; delete it to let the producer write that day')
  end
  local function after_first(id)
    return tonumber(string.match(id, '^(%d+)')) >= first
  end
  local info = redis.call('XINFO', 'STREAM', partition)
  local lastId, lastEntry
  for k = 1, #info, 2 do
    if info[k] == 'last-generated-id' then lastId = info[k + 1] end
    if info[k] == 'last-entry' then lastEntry = info[k + 1] end
  end
  if after_first(lastId) then
    if type(lastEntry) == 'table' and after_first(lastEntry[1]) then
      return redis.error_reply('FOREIGN_ENTRY ' .. partition .. ' holds entry ' .. lastEntry[1] .. ', which this producer did not write, at or after its next reading ' .. ARGV[2] .. '-0; delete the entry (XDEL) or the partition')
    end
    -- Only deleted entries were there: bring the ID counter back to what the stream holds.
    redis.call('XSETID', partition, type(lastEntry) == 'table' and lastEntry[1] or '0-0')
  end
end

local names = devices > 1 and devices or 0
local firstTemp = 9 + names
local count = #ARGV - firstTemp + 1
for i = 0, count - 1 do
  local device = i % devices
  local id = string.format('%d-%d', first + math.floor(i / devices) * interval, device)
  if names > 0 then
    redis.call('XADD', partition, id, 'temp_f', ARGV[firstTemp + i], 'device_id', ARGV[9 + device])
  else
    redis.call('XADD', partition, id, 'temp_f', ARGV[firstTemp + i])
  end
end

-- Never set an expiry in the past: EXPIREAT in the past deletes the key it should protect.
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expireAt = math.max(tonumber(ARGV[5]), nowMs + 1000)
redis.call('PEXPIREAT', partition, string.format('%d', expireAt))
redis.call('HSET', state, 'watermark_ms', ARGV[6], 'generator', ARGV[7], 'written_by', ARGV[8])
return count
`;
