import type { RedisKey, Result } from 'ioredis';
import type { ScriptCommand } from '@temps/redis';
import { LaneStateHash, PLAUSIBLE_TEMP_F, ProducerStateHash } from '@temps/streams';

/**
 * Folds the entries of one partition in a range (after a cursor, or from an hour's start, up to an
 * hour's end), up to a bound, inside Redis and returns only the result: closed hours, the open
 * hour, rejections by reason, the last ID folded and the early entries met. Readings never cross the network one by one. Read-only (`no-writes`), so it may run
 * on a replica. Its specification is `foldPartition` (libs/streams/src/partition-fold.ts): the
 * integration spec checks both return the same for the same entries, bit for bit.
 *
 * Speed: an entry's hour is found by comparing its ID string with the current hour's end (same digit
 * count); the ID is parsed only at an hour boundary, and each distinct temp_f text once per call. Sums run
 * in the same order as the TypeScript fold, from the window's exact total, and every float crosses
 * as `%.17g` text, so the averages are identical to a fold in Node.
 *
 * KEYS[1] the partition   KEYS[2] the producer's state (its watermark_ms; absent: no producer; a
 *   lane's confirmed_ms, when present, bounds both the read and the watermark)
 * ARGV[1] where to start, as XRANGE takes it ('-', '(<id>' after the cursor, '<ms>-0' an hour's start)
 * ARGV[2] bound (entries)   ARGV[3] day start (ms)   ARGV[4] published until (ms)
 * ARGV[5] newest early entry already counted ('' none)
 * ARGV[6..10] the open hour: start (ms), total, count, min, max
 * ARGV[11] range end (ms, exclusive; '' for none)
 * Returns { last ID folded or false, consumed, accepted, more (0/1: the bound was reached, or the
 *   stream holds entries at or after the range end), rejected {reason, n, ...},
 *   closed {start, total, count, min, max, ...}, window {start, total, count, min, max},
 *   early {first ID, uncounted, through} or {}, the watermark read (text) or false,
 *   the first hour an entry opened (ms, text) or false, whether the range was read to its end,
 *   the partition's first entry ID or false (absent or empty: with a cursor before the first entry,
 *   readings after the cursor were lost) }.
 */
export const FOLD_PARTITION: ScriptCommand = {
  name: 'foldPartition',
  numberOfKeys: 2,
  lua: `#!lua flags=no-writes
local HOUR = 3600000
local byte, find, match, fmt = string.byte, string.find, string.match, string.format
local key, after, bound = KEYS[1], ARGV[1], tonumber(ARGV[2])
local dayStart = tonumber(ARGV[3])
local dayEnd = dayStart + 86400000
local published = tonumber(ARGV[4])
-- The watermark in the same atomic step as the read: every reading before it is there to fold.
local watermarkText = redis.call('HGET', KEYS[2], '${ProducerStateHash.FIELDS.watermarkMs}')
local watermark = tonumber(watermarkText) or math.huge
-- A lane confirmed by replicas (REDIS_WAIT_REPLICAS) is read only below its confirmed mark: what a
-- failover could still lose is neither folded nor taken as early.
local confirmedText = redis.call('HGET', KEYS[2], '${LaneStateHash.FIELDS.confirmedMs}')
local confirmed = tonumber(confirmedText)
if confirmed and confirmed < watermark then watermark, watermarkText = confirmed, confirmedText end
local earlyThrough = ARGV[5]
local hour, total, n, min, max =
  tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])

-- Whether entry ID a comes after b. Both parts go up to 2^64 - 1, past a double's precision:
-- compared as digit strings (canonical: no leading zeros), the longer the larger.
local function digits_after(x, y)
  if #x ~= #y then return #x > #y end
  return x > y
end
local function id_after(a, b)
  local ma, sa = match(a, '^(%d+)-(%d+)$')
  local mb, sb = match(b, '^(%d+)-(%d+)$')
  if ma ~= mb then return digits_after(ma, mb) end
  return digits_after(sa, sb)
end
local function ms_of(id) return tonumber(match(id, '^(%d+)')) end

local untilMs = tonumber(ARGV[11]) or math.huge
local readUntil = untilMs
if confirmed and confirmed < readUntil then readUntil = confirmed end
local entries = redis.call('XRANGE', key, after, readUntil == math.huge and '+' or '(' .. fmt('%d', readUntil) .. '-0', 'COUNT', bound)
local opened = false
local closed, rejected = {}, {}
local function reject(reason) rejected[reason] = (rejected[reason] or 0) + 1 end
-- temp_f text -> its number, or false with the reason in unusable[text]: a table lookup is cheaper
-- than parsing the same text again.
local parsed, unusable = {}, {}
local function parse(v)
  local t = false
  if find(v, '^%-?%d+$') or find(v, '^%-?%d+%.%d+$') then
    t = tonumber(v)
    if t < ${PLAUSIBLE_TEMP_F.min} or t > ${PLAUSIBLE_TEMP_F.max} then
      t, unusable[v] = false, 'out_of_range'
    end
  else
    unusable[v] = 'not_a_number'
  end
  parsed[v] = t
  return t
end
-- Any layout other than temp_f first (and device_id second): the reading, or false once rejected.
local function temp_of(f)
  local v, unexpected = nil, false
  for k = 1, #f, 2 do
    if f[k] == 'temp_f' then v = f[k + 1] elseif f[k] ~= 'device_id' then unexpected = true end
  end
  if v == nil then reject('missing_temp') return false end
  if unexpected then reject('unexpected_field') return false end
  local t = parsed[v]
  if t == nil then t = parse(v) end
  if not t then reject(unusable[v]) end
  return t
end

local stop, early = #entries + 1, {}
-- Fast path: IDs come in order, so once an entry has opened hour 'cur', every later ID below hi
-- (as text, same digit count) is in that hour — inside the day, after the published hours, before
-- the watermark — and needs no parsing.
local hi, width, cur = nil, 0, nil
-- Only an ID with more digits than hi can pass the text comparison wrongly; IDs are in numeric
-- order, so when the batch's newest has no more digits, none has.
local newest = entries[#entries]
local checkWidth = newest ~= nil and find(newest[1], '-', 1, true) - 1 ~= #fmt('%d', dayStart)
for i = 1, #entries do
  local entry = entries[i]
  local id = entry[1]
  local t
  if hi and id < hi and (not checkWidth or byte(id, width + 1) == 45) then
    local f = entry[2]
    if f[1] == 'temp_f' and (f[3] == nil or (f[3] == 'device_id' and f[5] == nil)) then
      local v = f[2]
      t = parsed[v]
      if t == nil then t = parse(v) end
      if not t then reject(unusable[v]) end
    else
      t = temp_of(f)
    end
  else
    local ms = tonumber(match(id, '^(%d+)'))
    local outside = ms < dayStart or ms >= dayEnd
    if not outside and ms >= watermark then
      local uncounted, through = 0, earlyThrough
      for j = i, #entries do
        local e = entries[j][1]
        if earlyThrough == '' or id_after(e, earlyThrough) then uncounted = uncounted + 1 end
        if through == '' or id_after(e, through) then through = e end
      end
      stop, early = i, { id, uncounted, through }
      break
    end
    hi = nil
    if outside then
      reject('wrong_partition')
    elseif ms < published then
      reject('late')
    else
      cur = ms - ms % HOUR
      if not opened then opened = fmt('%d', cur) end
      -- Any entry of a later hour, usable or not, proves the open hour has ended.
      if n > 0 and cur > hour then
        closed[#closed + 1] = { hour, total, n, min, max }
        n = 0
      end
      local b = fmt('%d', math.min(cur + HOUR, watermark))
      if #b == #fmt('%d', cur) then hi, width = b, #b end
      t = temp_of(entry[2])
    end
  end
  if t then
    if n == 0 then
      hour, total, n, min, max = cur, t, 1, t, t
    else
      total = total + t
      n = n + 1
      if t < min then min = t elseif t > max then max = t end
    end
  end
end

local consumed = stop - 1
local last = consumed > 0 and entries[consumed][1] or false
local accepted = consumed
for _, count in pairs(rejected) do accepted = accepted - count end
local function hour_reply(h)
  return { fmt('%d', h[1]), fmt('%.17g', h[2]), h[3], fmt('%.17g', h[4]), fmt('%.17g', h[5]) }
end
local closedReply = {}
for _, h in ipairs(closed) do
  for _, v in ipairs(hour_reply(h)) do closedReply[#closedReply + 1] = v end
end
local rejectedReply = {}
for reason, count in pairs(rejected) do
  rejectedReply[#rejectedReply + 1] = reason
  rejectedReply[#rejectedReply + 1] = count
end
local window = n > 0 and hour_reply({ hour, total, n, min, max }) or { '0', '0', 0, '0', '0' }
local exhausted = #entries < bound
local more = 0
if #early == 0 then
  if not exhausted then
    more = 1
  elseif readUntil == untilMs then
    -- Entries past the range's end prove it complete, but not when the confirmed mark cut the read
    -- short: the range's tail is still to come (the next fold may see a later mark).
    local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
    if top and ms_of(top[1]) >= untilMs then more = 1 end
  end
end
local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
return { last, consumed, accepted, more, rejectedReply, closedReply, window, early, watermarkText,
  opened, exhausted and #early == 0 and 1 or 0, head and head[1] or false }
`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See FOLD_PARTITION: `args` are its ARGV. */
    foldPartition(
      partition: RedisKey,
      producerState: RedisKey,
      ...args: (string | number)[]
    ): Result<
      [
        lastId: string | null,
        consumed: number,
        accepted: number,
        more: number,
        rejected: (string | number)[],
        closed: (string | number)[],
        window: (string | number)[],
        early: (string | number)[],
        watermark: string | null,
        opened: string | null,
        exhausted: number,
        head: string | null,
      ],
      Context
    >;
  }
}
