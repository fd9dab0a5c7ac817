import { Redis } from 'ioredis';
import { redactRedisUrl } from './redis-url';

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
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  let lastError: Error | undefined;
  const remember = (error: Error) => (lastError = error);
  client.on('error', remember);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    const cause = lastError ?? (error as Error);
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
