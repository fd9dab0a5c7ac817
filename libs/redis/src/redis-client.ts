import { TimeoutError, withTimeout } from '@temps/common';
import { Redis } from 'ioredis';
import { redactRedisUrl } from './redis-url';

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Every command's deadline (ms): a Redis that stops answering (paused, frozen, a stalled proxy)
 * answers nothing, so only the client can end the wait. A command that times out may still be
 * applied later; every write here is guarded (the single-writer guard), so sending it again is
 * refused if it was. Long enough for any script here (a fold takes about 5 ms). A blocking read
 * gets its block time on top (RedisStreamsServer).
 */
export const COMMAND_TIMEOUT_MS = 10_000;

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/**
 * Connects and proves the connection works (authenticated PING) before anything else happens, so a
 * wrong address or password is one clear error at start-up rather than a stream of retries. After
 * that the client reconnects by itself for as long as the process lives.
 */
export async function connectRedis(url: string, connectionName: string): Promise<Redis> {
  const client = new Redis(url, {
    connectionName,
    lazyConnect: true,
    maxRetriesPerRequest: null,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  let lastError: Error | undefined;
  const remember = (error: Error) => (lastError = error);
  client.on('error', remember);
  // ioredis ignores a failed SELECT of the URL's database and carries on in database 0: select it
  // again here, where a refusal is an error. Some refusals make ioredis retry forever instead of
  // failing: the first connection gets a deadline.
  const database = new URL(url).pathname.slice(1);
  const ready = client
    .connect()
    .then(() => (database ? client.select(Number(database)) : undefined))
    .then(() => client.ping());
  try {
    await withTimeout(ready, CONNECT_TIMEOUT_MS);
  } catch (error) {
    client.disconnect();
    const cause =
      lastError ??
      (error instanceof TimeoutError
        ? new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)
        : (error as Error));
    throw new RedisUnavailableError(
      `Cannot use Redis at ${redactRedisUrl(url)}: ${describe(cause)}`,
      { cause },
    );
  }
  return client;
}

function describe(error: Error): string {
  const message = error.message;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return 'wrong user name or password';
  }
  if (/NOAUTH/.test(message)) return 'Redis requires a password (set it in REDIS_URL)';
  return message;
}
