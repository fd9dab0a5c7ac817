import {
  REFUSAL_KINDS,
  refuse,
  startPrivateRedis,
  startRefusingRedis,
  type PrivateRedis,
} from '@temps/testing';
import { Redis, type Result } from 'ioredis';
import {
  COMMAND_TIMEOUT_MS,
  RedisTransientError,
  TransientCode,
  classifyRedisError,
  connectRedis,
  defineScripts,
  transientCause,
  withTypedErrors,
  type ScriptCommand,
} from '../src';

/** A script as the services write theirs: it reads, then writes (a batch, a commit). */
const READ_THEN_WRITE: ScriptCommand = {
  name: 'readThenWrite',
  numberOfKeys: 1,
  lua: `local before = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
return before`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    readThenWrite(key: string, value: string): Result<string | null, Context>;
  }
}

/** A real Redis 7 made to refuse for a while: the replies the classification is about. */
describe.each(REFUSAL_KINDS)('a real %s refusal', (kind) => {
  let server: PrivateRedis;
  let redis: Redis;
  beforeEach(async () => {
    server = await startRefusingRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    defineScripts(redis, READ_THEN_WRITE);
    await redis.set('k', 'before');
  });
  afterEach(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('is transient for a command and for a script, which wrote nothing; it clears', async () => {
    const refusal = await refuse(server.url, kind);
    try {
      const command = await redis.set('k', 'during').catch((e: unknown) => e);
      expect(classifyRedisError(command)).toBe('transient');
      const script = await withTypedErrors(redis.readThenWrite('k', 'during')).catch(
        (e: unknown) => e,
      );
      expect(script).toBeInstanceOf(RedisTransientError);
      expect((script as RedisTransientError).code).toBe(kind);
    } finally {
      await refusal.clear();
    }
    expect(await redis.get('k')).toBe('before');
    expect(await withTypedErrors(redis.readThenWrite('k', 'after'))).toBe('before');
    expect(await redis.get('k')).toBe('after');
  });
});

describe('other real replies', () => {
  it('MASTERDOWN (a replica that lost its master) is transient; WRONGTYPE and NOPERM are not', async () => {
    const server = await startPrivateRedis({ args: ['--replica-serve-stale-data', 'no'] });
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      await redis.hset('h', 'f', '1');
      expect(classifyRedisError(await redis.xadd('h', '*', 'f', '1').catch((e) => e))).toBe(
        'fatal',
      );
      await redis.acl('SETUSER', 'reader', 'on', 'nopass', '~*', '+get');
      const reader = new Redis(server.url, {
        username: 'reader',
        password: 'x',
        maxRetriesPerRequest: 1,
      });
      expect(classifyRedisError(await reader.set('a', '1').catch((e) => e))).toBe('fatal');
      reader.disconnect();
      // A master that does not exist: the link stays down.
      await redis.replicaof('127.0.0.1', '1');
      expect(classifyRedisError(await redis.get('h').catch((e) => e))).toBe('transient');
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('a Redis that stops answering (SIGSTOP)', () => {
  it('every command ends at its deadline as a transient TIMEOUT, and commands work again once it answers', async () => {
    const server = await startPrivateRedis();
    const redis = await connectRedis(server.url, { connectionName: 'deadline-test' });
    // The server's own pid, as it reports it (INFO server process_id).
    const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))![1]);
    try {
      await redis.set('k', '1');
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      const error = await redis.get('k').catch((e: unknown) => e);
      const waited = Date.now() - started;
      expect(classifyRedisError(error)).toBe('transient');
      expect(transientCause(error)?.code).toBe(TransientCode.Timeout);
      expect(waited).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 100);
      expect(waited).toBeLessThan(COMMAND_TIMEOUT_MS + 3_000);
      process.kill(pid, 'SIGCONT');
      await expect(redis.get('k')).resolves.toBe('1');
    } finally {
      process.kill(pid, 'SIGCONT');
      redis.disconnect();
      await server.stop();
    }
  }, 30_000);
});
