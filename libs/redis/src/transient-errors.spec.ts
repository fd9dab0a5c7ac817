import { ReplyError } from 'ioredis';
import { classifyRedisError } from './redis-error-class';
import {
  RedisOutOfMemoryError,
  StaleStateError,
  typedRedisError,
  withTypedErrors,
} from './script-errors';
import {
  RedisTransientError,
  TransientCode,
  TransientRetry,
  transientCause,
} from './transient-errors';

const reply = (message: string): Error => new ReplyError(message) as Error;

/** The decision, one row per reply: the code, its class. */
const TABLE: [string, 'transient' | 'refusal' | 'fatal'][] = [
  [
    'MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk.',
    'transient',
  ],
  [
    'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
    'transient',
  ],
  ["READONLY You can't write against a read only replica.", 'transient'],
  ['LOADING Redis is loading the dataset in memory', 'transient'],
  ['MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.', 'transient'],
  ['TRYAGAIN Multiple keys request during rehashing of slot', 'transient'],
  ['CLUSTERDOWN The cluster is down', 'transient'],
  ['NOREPLICAS Not enough good replicas to write.', 'transient'],
  [
    'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
    'transient',
  ],
  ["OOM command not allowed when used memory > 'maxmemory'.", 'refusal'],
  ['STALE_STATE producer_state moved on', 'refusal'],
  ['STATE_GONE producer_state disappeared', 'refusal'],
  ['FOREIGN_KEY temps:20250101 is a hash', 'refusal'],
  ['FOREIGN_ENTRY temps:20250101 holds entry 1-0', 'refusal'],
  ["ERR unknown command 'FOO'", 'fatal'],
  ['WRONGTYPE Operation against a key holding the wrong kind of value', 'fatal'],
  ["NOPERM this user has no permissions to run the 'evalsha' command", 'fatal'],
  ['NOAUTH Authentication required.', 'fatal'],
  ['WRONGPASS invalid username-password pair or user is disabled.', 'fatal'],
  ["CROSSSLOT Keys in request don't hash to the same slot", 'fatal'],
  ['MOVED 3999 127.0.0.1:6381', 'fatal'],
  ['NOSCRIPT No matching script. Please use EVAL.', 'fatal'],
  ['EXECABORT Transaction discarded because of previous errors.', 'fatal'],
];

describe('classifyRedisError: which replies clear by themselves', () => {
  it.each(TABLE)('%s → %s', (message, expected) => {
    expect(classifyRedisError(reply(message))).toBe(expected);
    expect(classifyRedisError(typedRedisError(reply(message)))).toBe(expected);
  });

  it('names a class for every transient code', () => {
    for (const code of Object.values(TransientCode)) {
      expect(classifyRedisError(reply(`${code} why`))).toBe('transient');
    }
  });

  it('a failure that is no reply at all is not transient', () => {
    expect(classifyRedisError(new Error('Connection is closed.'))).toBe('fatal');
    expect(classifyRedisError(null)).toBe('fatal');
  });

  it.each([
    ['Too many Cluster redirections. Last error: Error: Connection is closed.'],
    ['Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'],
    ['Failed to refresh slots cache.'],
  ])('the cluster client giving up on a slot for now is transient: UNSETTLED (%s)', (message) => {
    const cause = transientCause(new Error(message));
    expect(cause?.code).toBe(TransientCode.Unsettled);
    expect(cause?.reason).toMatch(/^Redis Cluster is failing over or moving slots \(/);
    // The same words inside an error reply of Redis are not ioredis's: not classed by them.
    expect(transientCause(new ReplyError(message))).toBeNull();
  });

  it("a command past its deadline (ioredis's commandTimeout) is transient: TIMEOUT", () => {
    const timedOut = new Error('Command timed out');
    expect(classifyRedisError(timedOut)).toBe('transient');
    expect(transientCause(timedOut)).toMatchObject({
      code: TransientCode.Timeout,
      reason: 'Redis did not answer in time (TIMEOUT Command timed out.)',
    });
    // The same words in a reply are Redis's, not the deadline: no code, not transient.
    expect(classifyRedisError(reply('Command timed out'))).toBe('fatal');
  });
});

describe('RedisTransientError', () => {
  it('is what withTypedErrors raises for a transient reply, with its code, a one-line reason and the reply as cause', async () => {
    const original = reply(
      'MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk. Commands that may modify the data set are disabled. script: 936969dfe385d20f018c3af5fd07dec55ad3cb84, on @user_script:1.',
    );
    const error = await withTypedErrors(Promise.reject(original)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisTransientError);
    const typed = error as RedisTransientError;
    expect(typed.code).toBe(TransientCode.Misconf);
    expect(typed.cause).toBe(original);
    expect(typed.reason).toBe(
      'Redis refuses writes: it cannot persist to disk (MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk.)',
    );
  });

  it('is found behind a cause, and behind an EXECABORT whose queued write was refused', () => {
    const wrapped = new Error('commit failed', {
      cause: reply('BUSY Redis is busy running a script.'),
    });
    expect(transientCause(wrapped)?.code).toBe(TransientCode.Busy);
    const aborted = reply('EXECABORT Transaction discarded because of previous errors.');
    (aborted as unknown as { previousErrors: Error[] }).previousErrors = [
      reply("READONLY You can't write against a read only replica."),
    ];
    expect(transientCause(aborted)?.code).toBe(TransientCode.ReadOnly);
    expect(classifyRedisError(aborted)).toBe('transient');
    expect(transientCause(new StaleStateError('STALE_STATE x'))).toBeNull();
    expect(transientCause(new RedisOutOfMemoryError('OOM'))).toBeNull();
  });
});

describe('TransientRetry', () => {
  it('one line per kind while it lasts, back-off 1 s doubling to 10 s, one line when it clears', () => {
    const lines: string[] = [];
    let now = 0;
    const sink = {
      log: (l: string) => lines.push(`log ${l}`),
      warn: (l: string) => lines.push(`warn ${l}`),
      error: (l: string) => lines.push(`error ${l}`),
    };
    const retry = new TransientRetry(sink, { now: () => now });
    const busy = new RedisTransientError('BUSY Redis is busy running a script.');
    const waits = Array.from({ length: 6 }, () => {
      const wait = retry.refused(busy);
      now += wait;
      return wait;
    });
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(retry.active).toBe(true);
    retry.succeeded();
    retry.succeeded();
    expect(lines).toEqual([
      "warn Redis is busy running another client's script (BUSY Redis is busy running a script.); retrying with back-off until it clears.",
      'log Redis accepts the work again after 35.0 s of refusals; going on.',
    ]);
    // A new refusal is news again, and starts the back-off over.
    expect(retry.refused(busy)).toBe(1_000);
    expect(lines).toHaveLength(3);
  });
});
