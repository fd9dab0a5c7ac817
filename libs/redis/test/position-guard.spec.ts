import { usePrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';
import {
  GUARD_POSITION_LUA,
  RefusalCode,
  StaleStateError,
  StateGoneError,
  positionGuard,
  withTypedErrors,
} from '../src';

/** The one single-writer guard, run by a real Redis 7 inside a script that writes after it. */
describe('guard_position', () => {
  const fixture = usePrivateRedis();
  let redis: Redis;
  beforeAll(() => (redis = fixture.redis));

  const guard = positionGuard(['run_id', 'at'] as const, { key: 'KEYS[1]', firstArg: 1 });
  // Guards, then writes: ARGV[3] into `at` and a marker, so a refusal that wrote shows.
  const script = `${GUARD_POSITION_LUA}
local saved = ${guard.call}
redis.call('HSET', KEYS[1], 'at', ARGV[3], 'touched', '1')
return saved
`;
  const advance = (expected: { run_id: string; at: number }, to: number) =>
    withTypedErrors(redis.eval(script, 1, 'state', ...guard.argv(expected), to));

  it('builds its call and ARGV from the field names, in field order', () => {
    expect(guard.call).toBe("guard_position(KEYS[1], { 'run_id', 'at' }, { ARGV[1], ARGV[2] })");
    expect(guard.argc).toBe(2);
    expect(guard.argv({ at: 5, run_id: 'r' })).toEqual(['r', '5']);
    expect(() =>
      positionGuard(["x') redis.call('FLUSHALL"], { key: 'KEYS[1]', firstArg: 1 }),
    ).toThrow(/Not a state field name/);
  });

  it('lets the write through when every field is the expected one; returns the saved values', async () => {
    await redis.hset('state', 'run_id', 'r', 'at', '5');
    await expect(advance({ run_id: 'r', at: 5 }, 9)).resolves.toEqual(['r', '5']);
    expect(await redis.hget('state', 'at')).toBe('9');
  });

  it('a field moved on: STALE_STATE as the first word, StaleStateError, nothing written', async () => {
    await redis.hset('state', 'run_id', 'r', 'at', '7');
    const refused = advance({ run_id: 'r', at: 5 }, 9);
    await expect(refused).rejects.toBeInstanceOf(StaleStateError);
    await expect(refused).rejects.toMatchObject({
      code: RefusalCode.StaleState,
      message: 'STALE_STATE state moved on: expected run_id=r, at=5; found run_id=r, at=7',
      detail: 'state moved on: expected run_id=r, at=5; found run_id=r, at=7',
    });
    expect(await redis.hgetall('state')).toEqual({ run_id: 'r', at: '7' });
  });

  it('a field missing counts as moved on', async () => {
    await redis.hset('state', 'at', '5');
    await expect(advance({ run_id: 'r', at: 5 }, 9)).rejects.toMatchObject({
      message: 'STALE_STATE state moved on: expected run_id=r, at=5; found run_id=(none), at=5',
    });
    expect(await redis.hexists('state', 'touched')).toBe(0);
  });

  it('the hash gone: STATE_GONE, naming the writer when given, nothing written', async () => {
    await expect(advance({ run_id: 'r', at: 5 }, 9)).rejects.toMatchObject({
      message: 'STATE_GONE state disappeared from Redis',
    });
    const named = positionGuard(['at'], { key: 'KEYS[1]', firstArg: 1, writer: 'reader' });
    const refused = withTypedErrors(
      redis.eval(
        `${GUARD_POSITION_LUA}\n${named.call}\nredis.call('SET', 'x', 1)`,
        1,
        'state',
        '5',
      ),
    );
    await expect(refused).rejects.toBeInstanceOf(StateGoneError);
    await expect(refused).rejects.toMatchObject({
      detail: 'state disappeared from Redis while the reader ran',
    });
    expect(await redis.exists('state', 'x')).toBe(0);
  });
});
