import type { RedisKey, Result } from 'ioredis';
import {
  GUARD_POSITION_LUA,
  LAST_GENERATED_ID_LUA,
  MS_OF_LUA,
  RefusalCode,
  positionGuard,
  type ScriptCommand,
} from '@temps/redis';
import { LaneRegistryHash, LaneStateHash } from '@temps/streams';

const S = LaneStateHash.FIELDS;
const R = LaneRegistryHash.FIELDS;

/** `now_ms()`: Redis's own clock in Unix ms, the only clock leases are measured by. */
const NOW_MS_LUA = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** A lane batch belongs to the run: ARGV[1] run id. */
export const LANE_RUN_GUARD = positionGuard([S.runId], {
  key: 'KEYS[2]',
  firstArg: 1,
  writer: 'producer',
});

/** A lane batch starts where the lane is: ARGV[2] first reading. */
export const LANE_POSITION_GUARD = positionGuard([S.watermarkMs], { key: 'KEYS[2]', firstArg: 2 });

/**
 * Writes one batch of one lane's readings into the lane's partition of one day, pushes the
 * partition's expiry and advances the lane's position, all or nothing (as WRITE_BATCH does for the
 * default layout). Both keys carry the lane's hash tag: one cluster slot. Checked before the first
 * write, in this order: the lane state belongs to the run (STATE_GONE, STALE_STATE), the batch
 * carries the lane's current fencing token (FENCED: another producer took the lane after this
 * one's lease lapsed), the batch starts at the lane's watermark (STALE_STATE), the partition is a
 * stream with nothing at or after the batch (FOREIGN_KEY, FOREIGN_ENTRY).
 *
 * KEYS[1] lane partition (temps:YYYYMMDD:{tag})   KEYS[2] lane state (producer_state:{tag})
 * ARGV[1] run id          ARGV[2] first reading (Unix ms)   ARGV[3] fencing token
 * ARGV[4] interval (ms)   ARGV[5] devices in the lane (n)   ARGV[6] expire at (real Unix ms)
 * ARGV[7] new watermark   ARGV[8] generator state (JSON)    ARGV[9] producer id (written_by)
 * ARGV[10 .. 9+n] the devices' global indexes (device_id), then the temperatures, tick by tick,
 * device by device. Entry IDs are `<reading ms>-<i>`, i the device's index within the lane.
 * Returns the number of readings written.
 */
export const WRITE_LANE_BATCH: ScriptCommand = {
  name: 'writeLaneBatch',
  numberOfKeys: 2,
  lua: `
${MS_OF_LUA}
${LAST_GENERATED_ID_LUA}
${GUARD_POSITION_LUA}
${NOW_MS_LUA}
local partition, state = KEYS[1], KEYS[2]
local first, interval, devices = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])

${LANE_RUN_GUARD.call}
local fence = redis.call('HGET', state, '${S.fence}')
if fence ~= ARGV[3] then
  return redis.error_reply('${RefusalCode.Fenced} ' .. state .. ' is fenced with token ' .. tostring(fence) .. ', not this producer token ' .. ARGV[3] .. ': another producer took the lane')
end
${LANE_POSITION_GUARD.call}

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
    redis.call('XSETID', partition, newest and newest[1] or '0-0')
  end
end

local firstTemp = 10 + devices
local count = #ARGV - firstTemp + 1
for i = 0, count - 1 do
  local device = i % devices
  local id = string.format('%d-%d', first + math.floor(i / devices) * interval, device)
  redis.call('XADD', partition, id, 'temp_f', ARGV[firstTemp + i], 'device_id', ARGV[10 + device])
end

-- Never set an expiry in the past: EXPIREAT in the past deletes the key it should protect.
local expireAt = math.max(tonumber(ARGV[6]), now_ms() + 1000)
redis.call('PEXPIREAT', partition, string.format('%d', expireAt))
redis.call('HSET', state, '${S.watermarkMs}', ARGV[7], '${S.generator}', ARGV[8], '${S.writtenBy}', ARGV[9])
return count
`,
};

/**
 * Moves a lane's confirmed mark (`confirmed_ms`, REDIS_WAIT_REPLICAS) up to `mark`, never past the
 * lane's watermark and never down, if the caller still holds the lane (its token is the fence): a
 * mark from a WAIT sent just before a failover cannot vouch for readings the new master lacks. With
 * ARGV[3] = '1' it only sets a first mark where there is none (a lane just taken).
 *
 * KEYS[1] lane state   ARGV[1] token   ARGV[2] mark (Unix ms)   ARGV[3] '1': only if absent
 * Returns 1 when it moved the mark, else 0.
 */
export const CONFIRM_LANE: ScriptCommand = {
  name: 'confirmLane',
  numberOfKeys: 1,
  lua: `
local saved = redis.call('HMGET', KEYS[1], '${S.fence}', '${S.watermarkMs}', '${S.confirmedMs}')
if saved[1] ~= ARGV[1] or not saved[2] then return 0 end
local mark = math.min(tonumber(ARGV[2]), tonumber(saved[2]))
if saved[3] and (ARGV[3] == '1' or tonumber(saved[3]) >= mark) then return 0 end
redis.call('HSET', KEYS[1], '${S.confirmedMs}', string.format('%d', mark))
return 1
`,
};

/**
 * Takes a lane's state for a new holder: sets its fence to the holder's token, only upward (a token
 * not above the saved fence is refused with FENCED: a later holder took the lane already). A lane
 * state missing, or left by another run, is started afresh (the run's start, the lane's first
 * generator state) after deleting the lane's partitions of the run, which the caller lists: every
 * key carries the lane's tag (one slot). Without that list (ARGV[6] = '0') such a lane is not
 * started: the script returns 'list' and the caller calls again with the partitions. A holder that
 * does not confirm with replicas (ARGV[7] = '0') removes the lane's confirmed mark: it will not move
 * it, and a mark left by an earlier holder that did would hold the lane's readers there for good.
 *
 * KEYS[1] lane state   KEYS[2 ..] the lane's partitions of the run (deleted on a fresh start)
 * ARGV[1] run id   ARGV[2] token   ARGV[3] run start (Unix ms)   ARGV[4] first generator state (JSON)
 * ARGV[5] producer id   ARGV[6] '1' when KEYS lists the partitions   ARGV[7] '1' when the holder
 * confirms with replicas (REDIS_WAIT_REPLICAS)
 * Returns {'taken' | 'started', HGETALL of the lane state…}, or 'list'. Refuses with FENCED or
 * FOREIGN_KEY (a listed key that is not a stream).
 */
export const CLAIM_LANE = {
  name: 'claimLane',
  // KEYS vary in number: the caller passes it first (ioredis defineCommand without numberOfKeys).
  lua: `
local state = KEYS[1]
local saved = redis.call('HMGET', state, '${S.runId}', '${S.fence}')
local fence = tonumber(saved[2])
if fence and fence >= tonumber(ARGV[2]) then
  return redis.error_reply('${RefusalCode.Fenced} ' .. state .. ' is fenced with token ' .. saved[2] .. ', not below this producer token ' .. ARGV[2] .. ': another producer took the lane after this one')
end
if saved[1] == ARGV[1] then
  redis.call('HSET', state, '${S.fence}', ARGV[2])
  if ARGV[7] ~= '1' then redis.call('HDEL', state, '${S.confirmedMs}') end
  return { 'taken', unpack(redis.call('HGETALL', state)) }
end
if ARGV[6] ~= '1' then return 'list' end
for k = 2, #KEYS do
  local kind = redis.call('TYPE', KEYS[k])['ok']
  if kind ~= 'none' and kind ~= 'stream' then
    return redis.error_reply('${RefusalCode.ForeignKey} ' .. KEYS[k] .. ' is a ' .. kind .. ', not a stream; delete it to let the producer write that day')
  end
end
for k = 2, #KEYS do redis.call('DEL', KEYS[k]) end
redis.call('DEL', state)
redis.call('HSET', state, '${S.runId}', ARGV[1], '${S.watermarkMs}', ARGV[3], '${S.generator}', ARGV[4], '${S.writtenBy}', ARGV[5], '${S.fence}', ARGV[2])
return { 'started', unpack(redis.call('HGETALL', state)) }
`,
};

/**
 * Writes a run's registry: ARGV[1] '1' replaces whatever is there (a new run), '0' writes only if
 * there is no registry (producers started at once with --resume: exactly one creates the run).
 * `fence_seq` starts at max(the old registry's, Redis time in ms × 1000), so a token of this run is
 * above every token of an earlier one (a producer of an older run can never fence this one's lanes).
 *
 * KEYS[1] registry   ARGV[1] '1' | '0'   ARGV[2 ..] field/value pairs.   Returns 1 if written, else 0.
 */
export const CREATE_RUN: ScriptCommand = {
  name: 'createLanesRun',
  numberOfKeys: 1,
  lua: `
${NOW_MS_LUA}
local registry = KEYS[1]
local old = tonumber(redis.call('HGET', registry, '${R.fenceSeq}')) or 0
if ARGV[1] ~= '1' and redis.call('EXISTS', registry) == 1 then return 0 end
redis.call('DEL', registry)
redis.call('HSET', registry, unpack(ARGV, 2))
redis.call('HSET', registry, '${R.fenceSeq}', string.format('%d', math.max(old, now_ms() * 1000)))
return 1
`,
};

/**
 * One lease call of producer ARGV[2] on the registry (LaneRegistryHash), by the rule of
 * `leaseStep` (libs/streams/src/lane-lease.ts), with Redis time as the only clock: renews the
 * caller's membership (`member:<id>` = now + lease) — or, with ARGV[4] = '1', removes it and gives
 * back every lane (a graceful stop) —, forgets lapsed members and lane leases, gives back lanes
 * above the caller's fair share, renews the ones it keeps, and takes free lanes up to its share,
 * each with the next fencing token. Touches the registry key alone (one slot).
 *
 * KEYS[1] registry   ARGV[1] run id   ARGV[2] producer id   ARGV[3] lease (ms)   ARGV[4] '1' to leave
 * Returns { now ms, live members, {lane, token, lane, token, …} held, {lanes taken}, {lanes given back} }
 * (tokens as decimal strings). Refuses with STATE_GONE (no registry) or STALE_STATE (another run).
 */
export const LEASE_LANES: ScriptCommand = {
  name: 'leaseLanes',
  numberOfKeys: 1,
  lua: `
${NOW_MS_LUA}
local registry = KEYS[1]
local flat = redis.call('HGETALL', registry)
if #flat == 0 then
  return redis.error_reply('${RefusalCode.StateGone} ' .. registry .. ' disappeared from Redis while the producer ran')
end
local h = {}
for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
if h['${R.runId}'] ~= ARGV[1] then
  return redis.error_reply('${RefusalCode.StaleState} ' .. registry .. ' now holds run ' .. tostring(h['${R.runId}']) .. ', not this producer run ' .. ARGV[1])
end
local now, me, lease, leave = now_ms(), ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local until_ms = string.format('%d', now + lease)
local shards = tonumber(h['${R.shards}'])

-- Members: drop the lapsed, renew the caller (the caller counts as alive during its own call).
local alive, live = { [me] = true }, {}
for i = 1, #flat, 2 do
  local field = flat[i]
  if string.sub(field, 1, ${LaneRegistryHash.MEMBER_PREFIX.length}) == '${LaneRegistryHash.MEMBER_PREFIX}' then
    local id = string.sub(field, ${LaneRegistryHash.MEMBER_PREFIX.length + 1})
    if id ~= me then
      if tonumber(flat[i + 1]) <= now then
        redis.call('HDEL', registry, field)
      else
        alive[id] = true
        live[#live + 1] = id
      end
    end
  end
end
if leave then
  redis.call('HDEL', registry, '${LaneRegistryHash.MEMBER_PREFIX}' .. me)
else
  redis.call('HSET', registry, '${LaneRegistryHash.MEMBER_PREFIX}' .. me, until_ms)
  live[#live + 1] = me
end
table.sort(live)

-- The fair share: the first S mod n members (by id) get floor(S/n) + 1, the rest floor(S/n).
local share = 0
if not leave then
  for position = 1, #live do
    if live[position] == me then
      share = math.floor(shards / #live) + ((position <= shards % #live) and 1 or 0)
    end
  end
end

local function field(lane, name) return 'lane:' .. lane .. ':' .. name end
local holders, mine = {}, {}
for lane = 0, shards - 1 do
  local holder = h[field(lane, 'holder')] or ''
  if holder ~= '' then
    local lease_until = tonumber(h[field(lane, 'lease_until_ms')]) or 0
    if lease_until <= now or not alive[holder] then
      holder = ''
      redis.call('HSET', registry, field(lane, 'holder'), '', field(lane, 'lease_until_ms'), '0')
    end
  end
  holders[lane] = holder
  if holder == me then mine[#mine + 1] = lane end
end

local released, taken, count = {}, {}, 0
for k = 1, #mine do
  local lane = mine[k]
  if k > share then
    holders[lane] = ''
    released[#released + 1] = lane
    redis.call('HSET', registry, field(lane, 'holder'), '', field(lane, 'lease_until_ms'), '0')
  else
    count = count + 1
    redis.call('HSET', registry, field(lane, 'lease_until_ms'), until_ms)
  end
end
local seq = tonumber(h['${R.fenceSeq}']) or 0
local fences = {}
for lane = 0, shards - 1 do
  if count >= share then break end
  if holders[lane] == '' then
    seq = seq + 1
    count = count + 1
    holders[lane] = me
    fences[lane] = string.format('%d', seq)
    taken[#taken + 1] = lane
    redis.call('HSET', registry, field(lane, 'holder'), me, field(lane, 'lease_until_ms'), until_ms, field(lane, 'fence'), fences[lane])
  end
end
if #taken > 0 then redis.call('HSET', registry, '${R.fenceSeq}', string.format('%d', seq)) end

local held = {}
for lane = 0, shards - 1 do
  if holders[lane] == me then
    held[#held + 1] = lane
    held[#held + 1] = fences[lane] or h[field(lane, 'fence')]
  end
end
return { string.format('%d', now), #live, held, taken, released }
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See WRITE_LANE_BATCH: resolves to the number of readings written. */
    writeLaneBatch(
      partition: RedisKey,
      state: RedisKey,
      ...args: (string | number)[]
    ): Result<number, Context>;
    /** See CONFIRM_LANE: 1 when the mark moved. */
    confirmLane(state: RedisKey, ...args: (string | number)[]): Result<number, Context>;
    /** See CLAIM_LANE. */
    claimLane(
      numberOfKeys: number,
      ...keysThenArgs: (string | number)[]
    ): Result<string | string[], Context>;
    /** See CREATE_RUN: 1 if written. */
    createLanesRun(registry: RedisKey, ...args: (string | number)[]): Result<number, Context>;
    /** See LEASE_LANES. */
    leaseLanes(
      registry: RedisKey,
      ...args: (string | number)[]
    ): Result<[string, number, (string | number)[], number[], number[]], Context>;
  }
}
