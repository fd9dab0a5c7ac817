import { RefusalCode } from '../script-errors';

/**
 * The single-writer guard every script that advances a saved position runs before its first write:
 * `guard_position(key, fields, expected [, writer])`.
 *
 *   key       the state hash
 *   fields    Lua array of its field names (from the state module's FIELDS)
 *   expected  Lua array of the values the caller read, same length and order ('' for a field the
 *             caller found absent)
 *   writer    optional: who runs ('producer', 'reader'), for the STATE_GONE message
 *
 * HMGETs `fields` and raises the refusal as an error reply, so the script stops before writing:
 *   STATE_GONE <key> disappeared from Redis[ while the <writer> ran]      (no such hash)
 *   STALE_STATE <key> moved on: expected f=v, …; found f=w, …              (a field differs)
 * Returns the saved values (the HMGET reply) when the position is the expected one.
 *
 * Raised with `error(redis.error_reply(...))`: Redis 7.0 keeps the code as the reply's first word
 * (no `user_script:` prefix) but appends ` script: <sha>, on @user_script:<line>.`, which
 * typedRedisError strips, so the typed error's message is exactly the text above.
 */
export const GUARD_POSITION_LUA = `
local function guard_position(key, fields, expected, writer)
  local saved = redis.call('HMGET', key, unpack(fields))
  if redis.call('EXISTS', key) == 0 then
    local why = writer and (' while the ' .. writer .. ' ran') or ''
    error(redis.error_reply('${RefusalCode.StateGone} ' .. key .. ' disappeared from Redis' .. why))
  end
  for i = 1, #fields do
    if (saved[i] or '') ~= expected[i] then
      local want, found = {}, {}
      for j = 1, #fields do
        want[j] = fields[j] .. '=' .. tostring(expected[j])
        found[j] = fields[j] .. '=' .. (saved[j] or '(none)')
      end
      error(redis.error_reply('${RefusalCode.StaleState} ' .. key .. ' moved on: expected '
        .. table.concat(want, ', ') .. '; found ' .. table.concat(found, ', ')))
    end
  end
  return saved
end
`;

const FIELD_NAME = /^[a-z][a-z0-9_]*$/;

/** A guard over some fields of one state hash, as a script calls it and as its caller fills ARGV. */
export interface PositionGuard<F extends string> {
  /**
   * The Lua call (an expression returning the saved values), checking `fields` of the hash `key`
   * against ARGV[firstArg], ARGV[firstArg + 1], …
   */
  readonly call: string;
  /** How many ARGV the guard reads, from `firstArg` on. */
  readonly argc: number;
  /** The guard's ARGV from a typed expected position, in field order. */
  argv(expected: Record<F, string | number>): string[];
}

/**
 * The guard over `fields` (names from a state module's FIELDS, interpolated into the Lua) of the
 * hash at Lua expression `key` (e.g. 'KEYS[2]'), expected values from ARGV[firstArg] on. Put
 * GUARD_POSITION_LUA at the top of the script and `local saved = ${guard.call}` before any write.
 */
export function positionGuard<F extends string>(
  fields: readonly F[],
  options: { key: string; firstArg: number; writer?: string },
): PositionGuard<F> {
  for (const field of fields) {
    if (!FIELD_NAME.test(field)) throw new Error(`Not a state field name: ${field}`);
  }
  if (options.writer !== undefined && !/^[a-z ]+$/.test(options.writer)) {
    throw new Error(`Not a writer name: ${options.writer}`);
  }
  const names = fields.map((field) => `'${field}'`).join(', ');
  const argv = fields.map((_, i) => `ARGV[${options.firstArg + i}]`).join(', ');
  const writer = options.writer === undefined ? '' : `, '${options.writer}'`;
  return {
    call: `guard_position(${options.key}, { ${names} }, { ${argv} }${writer})`,
    argc: fields.length,
    argv: (expected) => fields.map((field) => String(expected[field])),
  };
}
