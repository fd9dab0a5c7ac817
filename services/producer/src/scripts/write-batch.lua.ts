import type { RedisKey, Result } from 'ioredis';
import {
  GUARD_POSITION_LUA,
  LAST_GENERATED_ID_LUA,
  MS_OF_LUA,
  RefusalCode,
  positionGuard,
  type ScriptCommand,
} from '@temps/redis';
import { ProducerStateHash } from '@temps/streams';

const F = ProducerStateHash.FIELDS;

/** The batch starts where the saved run is: ARGV[1] run id, ARGV[2] first reading. */
export const WRITE_BATCH_GUARD = positionGuard([F.runId, F.watermarkMs], {
  key: 'KEYS[2]',
  firstArg: 1,
  writer: 'producer',
});

/**
 * Writes one batch of readings into one partition, pushes the partition's expiry and advances the
 * producer's position, all or nothing: every check happens before the first write, and a script
 * cannot be interrupted half-way. A batch whose first reading is not where the saved position says
 * (already written, another process writing, or another run took over) is refused without writing
 * anything, by the single-writer guard (GUARD_POSITION_LUA over run_id and watermark_ms).
 *
 * KEYS[1] partition stream        KEYS[2] producer state hash
 * ARGV[1] run id                  ARGV[2] first reading (Unix ms)     ARGV[3] interval (ms)
 * ARGV[4] devices (n)             ARGV[5] expire at (real Unix ms)    ARGV[6] new watermark (ms)
 * ARGV[7] generator state (JSON)  ARGV[8] this process's id (saved as written_by)
 * ARGV[9 .. 8+n] device names when n > 1, then the temperatures, tick by tick, device by device.
 * Returns the number of readings written. Refuses with STATE_GONE, STALE_STATE (the guard),
 * FOREIGN_KEY or FOREIGN_ENTRY (RefusalCode).
 */
export const WRITE_BATCH: ScriptCommand = {
  name: 'writeBatch',
  numberOfKeys: 2,
  lua: `
${MS_OF_LUA}
${LAST_GENERATED_ID_LUA}
${GUARD_POSITION_LUA}
local partition, state = KEYS[1], KEYS[2]
local first, interval, devices = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

${WRITE_BATCH_GUARD.call}

-- The partition must be a stream whose IDs end before this batch. Checked before the first XADD,
-- since a failing XADD would stop the script with part of the batch written.
local kind = redis.call('TYPE', partition)['ok']
if kind ~= 'none' then
  if kind ~= 'stream' then
    return redis.error_reply('${RefusalCode.ForeignKey} ' .. partition .. ' is a ' .. kind .. ', not a stream; delete it to let the producer write that day')
  end
  if ms_of(last_generated_id(partition)) >= first then
    local newest = redis.call('XREVRANGE', partition, '+', '-', 'COUNT', 1)[1]
    if newest and ms_of(newest[1]) >= first then
      return redis.error_reply('${RefusalCode.ForeignEntry} ' .. partition .. ' holds entry ' .. newest[1] .. ', which this producer did not write, at or after its next reading ' .. ARGV[2] .. '-0; delete the entry (XDEL) or the partition')
    end
    -- Only deleted entries were there: bring the ID counter back to what the stream holds.
    redis.call('XSETID', partition, newest and newest[1] or '0-0')
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
redis.call('HSET', state, '${F.watermarkMs}', ARGV[6], '${F.generator}', ARGV[7], '${F.writtenBy}', ARGV[8])
return count
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See WRITE_BATCH: `args` are its ARGV. Resolves to the number of readings written. */
    writeBatch(
      partition: RedisKey,
      state: RedisKey,
      ...args: (string | number)[]
    ): Result<number, Context>;
  }
}
