/**
 * Lua shared by several scripts, each defined here once and put at the top of the scripts that
 * need it (Redis runs one self-contained script: there is no `require`).
 */

/** `ms_of(id)`: the milliseconds part of an entry ID, as a number. */
export const MS_OF_LUA = `
local function ms_of(id)
  return tonumber(string.match(id, '^(%d+)'))
end
`;

/**
 * `last_generated_id(key)`: the highest ID stream `key` has handed out (XINFO STREAM
 * last-generated-id: deleted entries count), or nil when the key does not exist.
 */
export const LAST_GENERATED_ID_LUA = `
local function last_generated_id(key)
  if redis.call('EXISTS', key) == 0 then return nil end
  local info = redis.call('XINFO', 'STREAM', key)
  for k = 1, #info, 2 do
    if info[k] == 'last-generated-id' then return info[k + 1] end
  end
  return nil
end
`;
