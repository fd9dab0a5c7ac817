import { ReplyError } from 'ioredis';
import {
  ForeignDataError,
  ForeignEntryError,
  ForeignKeyError,
  FencedError,
  RedisOutOfMemoryError,
  RefusalCode,
  ScriptRefusalError,
  StaleStateError,
  StateGoneError,
  typedRedisError,
  withTypedErrors,
} from './script-errors';

const reply = (message: string): Error => new ReplyError(message) as Error;

describe('typedRedisError', () => {
  it.each([
    [RefusalCode.StaleState, StaleStateError],
    [RefusalCode.StateGone, StateGoneError],
    [RefusalCode.ForeignKey, ForeignKeyError],
    [RefusalCode.ForeignEntry, ForeignEntryError],
    [RefusalCode.Fenced, FencedError],
  ])('turns a %s refusal into its typed error, text unchanged', (code, Type) => {
    const original = reply(`${code} producer_state disappeared from Redis`);
    const typed = typedRedisError(original) as ScriptRefusalError;
    expect(typed).toBeInstanceOf(Type);
    expect(typed).toBeInstanceOf(ScriptRefusalError);
    expect(typed.code).toBe(code);
    expect(typed.name).toBe(Type.name);
    expect(typed.message).toBe(`${code} producer_state disappeared from Redis`);
    expect(typed.detail).toBe('producer_state disappeared from Redis');
    expect(typed.cause).toBe(original);
  });

  it('gives every code a type', () => {
    for (const code of Object.values(RefusalCode)) {
      expect(typedRedisError(reply(`${code} why`))).toBeInstanceOf(ScriptRefusalError);
    }
  });

  it('drops what Redis 7 appends to a refusal raised with error(), and only that', () => {
    const raised = reply(
      'STALE_STATE k moved on: expected a=1; found a=2 script: 0123456789abcdef0123456789abcdef01234567, on @user_script:12.',
    );
    const typed = typedRedisError(raised) as StaleStateError;
    expect(typed.message).toBe('STALE_STATE k moved on: expected a=1; found a=2');
    expect(typed.detail).toBe('k moved on: expected a=1; found a=2');
    const inText = typedRedisError(reply('STATE_GONE k script: is a word here')) as Error;
    expect(inText.message).toBe('STATE_GONE k script: is a word here');
  });

  it('groups someone else\u2019s key and entry as ForeignDataError', () => {
    expect(typedRedisError(reply('FOREIGN_KEY temps:20250101 is a hash'))).toBeInstanceOf(
      ForeignDataError,
    );
    expect(typedRedisError(reply('FOREIGN_ENTRY temps:20250101 holds entry 1-0'))).toBeInstanceOf(
      ForeignDataError,
    );
    expect(typedRedisError(reply('STALE_STATE producer_state moved on'))).not.toBeInstanceOf(
      ForeignDataError,
    );
  });

  it("types Redis's own OOM reply by its code word", () => {
    const message = "OOM command not allowed when used memory > 'maxmemory'.";
    const typed = typedRedisError(reply(message));
    expect(typed).toBeInstanceOf(RedisOutOfMemoryError);
    expect((typed as Error).message).toBe(message);
  });

  it('reads only the leading code word', () => {
    for (const message of [
      'ERR Error running script: STALE_STATE somewhere in the text',
      'STALE_STATEX not a code',
      'stale_state lower case is not a code',
      'OOMPH not OOM',
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    ]) {
      const original = reply(message);
      expect(typedRedisError(original)).toBe(original);
    }
  });

  it('leaves errors that are not replies from Redis alone', () => {
    const plain = new Error('STALE_STATE from elsewhere');
    expect(typedRedisError(plain)).toBe(plain);
    expect(typedRedisError('STALE_STATE')).toBe('STALE_STATE');
  });
});

describe('withTypedErrors', () => {
  it('passes a reply through', async () => {
    await expect(withTypedErrors(Promise.resolve(7))).resolves.toBe(7);
  });

  it('rejects with the typed error', async () => {
    await expect(
      withTypedErrors(Promise.reject(reply('STALE_STATE aggregating_consumer_state moved on'))),
    ).rejects.toBeInstanceOf(StaleStateError);
  });
});
