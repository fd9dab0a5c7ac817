import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis, type PrivateRedisOptions } from './private-redis';

/** The refusals that clear by themselves a test can make a real Redis answer. */
export type RefusalKind = 'MISCONF' | 'BUSY' | 'READONLY';
export const REFUSAL_KINDS: readonly RefusalKind[] = ['MISCONF', 'BUSY', 'READONLY'];

/**
 * redis-server arguments that let a test provoke each refusal: `dir` may be changed at run time
 * (MISCONF), another client's script is answered with BUSY after 100 ms, and a replica syncs at
 * once (READONLY).
 */
export const REFUSAL_SERVER_ARGS = [
  '--enable-protected-configs',
  'yes',
  '--busy-reply-threshold',
  '100',
  '--repl-diskless-sync-delay',
  '0',
];

/** A private Redis started with REFUSAL_SERVER_ARGS. */
export function startRefusingRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  return startPrivateRedis({ ...options, args: [...REFUSAL_SERVER_ARGS, ...(options.args ?? [])] });
}

/** A refusal in force on a Redis; `clear()` ends it and resolves once Redis accepts writes again. */
export interface Refusal {
  kind: RefusalKind;
  clear(): Promise<void>;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(probe: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await wait(20);
  }
}

/**
 * Makes the Redis at `url` (started with REFUSAL_SERVER_ARGS) answer `kind` to writes, for real:
 * - MISCONF: RDB snapshots on (`save 3600 1`, `stop-writes-on-bgsave-error yes`), the folder set to
 *   /proc where no file can be made (not even by root), and a BGSAVE that fails.
 * - BUSY: another client runs a script that loops for `busyMs` (default 60 s; `clear()` kills it).
 * - READONLY: a second private redis-server becomes its replica, then a FAILOVER to it makes this
 *   one a replica of the other, with every acknowledged write kept; `clear()` promotes it back
 *   (REPLICAOF NO ONE) and stops the other.
 */
export async function refuse(url: string, kind: RefusalKind, busyMs = 60_000): Promise<Refusal> {
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  const done = () => admin.disconnect();
  try {
    if (kind === 'MISCONF') return await misconf(admin, done);
    if (kind === 'BUSY') return await busy(url, admin, busyMs, done);
    return await readonly(admin, done);
  } catch (error) {
    done();
    throw error;
  }
}

async function misconf(admin: Redis, done: () => void): Promise<Refusal> {
  const [, dir] = (await admin.config('GET', 'dir')) as [string, string];
  const [, save] = (await admin.config('GET', 'save')) as [string, string];
  await admin.config('SET', 'stop-writes-on-bgsave-error', 'yes');
  await admin.config('SET', 'save', '3600 1');
  await admin.config('SET', 'dir', '/proc');
  await admin.bgsave();
  await until(
    async () => /rdb_last_bgsave_status:err/.test(await admin.info('persistence')),
    'BGSAVE to /proc failing',
  );
  return {
    kind: 'MISCONF',
    async clear() {
      await admin.config('SET', 'dir', dir);
      // A save that succeeds ends the refusal (Redis would retry by itself after 5 s).
      await until(async () => {
        await admin.bgsave().catch(() => undefined);
        await wait(50);
        return /rdb_last_bgsave_status:ok/.test(await admin.info('persistence'));
      }, 'BGSAVE succeeding again');
      await admin.config('SET', 'save', save);
      done();
    },
  };
}

async function busy(url: string, admin: Redis, busyMs: number, done: () => void): Promise<Refusal> {
  const runner = new Redis(url, { maxRetriesPerRequest: 1 });
  runner.on('error', () => undefined);
  const loop = `local t = redis.call('TIME'); local stop = t[1] * 1000000 + t[2] + tonumber(ARGV[1]) * 1000
while true do t = redis.call('TIME'); if t[1] * 1000000 + t[2] >= stop then break end end
return 1`;
  const running = runner.eval(loop, 0, busyMs).catch(() => undefined);
  await until(
    async () =>
      (
        await admin.ping().then(
          () => '',
          (e: Error) => e.message,
        )
      ).startsWith('BUSY'),
    'another client busy',
  );
  return {
    kind: 'BUSY',
    async clear() {
      await admin.script('KILL').catch(() => undefined);
      await running;
      await until(async () => (await admin.ping()) === 'PONG', 'the script killed');
      runner.disconnect();
      done();
    },
  };
}

async function readonly(admin: Redis, done: () => void): Promise<Refusal> {
  const other = await startPrivateRedis({ args: ['--repl-diskless-sync-delay', '0'] });
  const otherClient = new Redis(other.url, { maxRetriesPerRequest: 1 });
  try {
    const { host, port } = admin.options;
    await otherClient.replicaof(host ?? '127.0.0.1', port ?? 6379);
    await until(
      async () => /master_link_status:up/.test(await otherClient.info('replication')),
      'replica in sync',
    );
    await until(
      async () => /slave0:.*state=online/.test(await admin.info('replication')),
      'replica online',
    );
    // FAILOVER waits until the replica has every write, then swaps the roles.
    await admin.call('FAILOVER', 'TO', '127.0.0.1', String(other.port), 'TIMEOUT', '5000');
    await until(
      async () => /role:slave/.test(await admin.info('replication')),
      'this server a replica',
    );
  } catch (error) {
    otherClient.disconnect();
    await other.stop();
    throw error;
  }
  return {
    kind: 'READONLY',
    async clear() {
      await admin.replicaof('NO', 'ONE');
      otherClient.disconnect();
      await other.stop();
      done();
    },
  };
}
