import { redactUrl } from '@temps/common';
/**
 * Where Redis is: `REDIS_URL` (redis:// or rediss://, credentials and database included), else the
 * seed's `REDIS_HOST`, `REDIS_PORT`, `REDIS_USER`, `REDIS_PASSWORD`, else redis://localhost:6379.
 * (The variables are read and checked by @temps/runtime's settings; this is what a URL must be.)
 */
export const DEFAULT_REDIS_URL = 'redis://localhost:6379';

export class RedisConfigError extends Error {
  override name = 'RedisConfigError';
}

/** The seed's separate pieces of a Redis location; each one missing keeps DEFAULT_REDIS_URL's. */
export interface RedisParts {
  host?: string;
  /** 1-65535. */
  port?: number;
  user?: string;
  password?: string;
}

/** The URL the parts name, not yet checked (see validateRedisUrl). */
export function redisUrlFromParts({ host, port, user, password }: RedisParts): string {
  const url = new URL(DEFAULT_REDIS_URL);
  if (host) url.hostname = host;
  if (port !== undefined) url.port = String(port);
  if (user) url.username = encodeURIComponent(user);
  if (password) url.password = encodeURIComponent(password);
  return url.toString();
}

/** `raw` itself if it is a redis:// or rediss:// URL naming a host (and a database number, if any); else throws RedisConfigError (one line). */
export function validateRedisUrl(raw: string): string {
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
  return redactUrl(raw, 'REDIS_URL');
}
