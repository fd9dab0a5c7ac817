/**
 * Where Redis is: `REDIS_URL` (redis:// or rediss://, credentials and database included), else the
 * seed's `REDIS_HOST`, `REDIS_PORT`, `REDIS_USER`, `REDIS_PASSWORD`, else redis://localhost:6379.
 */
export const DEFAULT_REDIS_URL = 'redis://localhost:6379';

export class RedisConfigError extends Error {
  override name = 'RedisConfigError';
}

export function redisUrlFromEnv(env: NodeJS.ProcessEnv): string {
  const { REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_USER, REDIS_PASSWORD } = env;
  if (REDIS_URL) return validateRedisUrl(REDIS_URL);

  const url = new URL(DEFAULT_REDIS_URL);
  if (REDIS_HOST) url.hostname = REDIS_HOST;
  if (REDIS_PORT) {
    if (!/^\d{1,5}$/.test(REDIS_PORT) || Number(REDIS_PORT) < 1 || Number(REDIS_PORT) > 65535) {
      throw new RedisConfigError(`REDIS_PORT must be a port number (1-65535), got "${REDIS_PORT}"`);
    }
    url.port = REDIS_PORT;
  }
  if (REDIS_USER) url.username = encodeURIComponent(REDIS_USER);
  if (REDIS_PASSWORD) url.password = encodeURIComponent(REDIS_PASSWORD);
  return validateRedisUrl(url.toString());
}

function validateRedisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RedisConfigError(
      'REDIS_URL must look like redis://[user:password@]host[:port][/db] (or rediss:// for TLS)',
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new RedisConfigError(
      `REDIS_URL must start with redis:// or rediss://, got ${url.protocol}//`,
    );
  }
  if (!url.hostname) throw new RedisConfigError('REDIS_URL names no host');
  // Redis numbers its databases from 0 (16 by default); a longer number cannot be one of them.
  if (url.pathname.length > 1 && !/^\/\d{1,6}$/.test(url.pathname)) {
    throw new RedisConfigError(
      `REDIS_URL's database must be a database number (0, 1, …), got "${url.pathname.slice(1)}"`,
    );
  }
  return raw;
}

/** The URL without its password, for logs and error messages. */
export function redactRedisUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}
