import type { Redis } from 'ioredis';

/**
 * The highest entry ID stream `key` has handed out (XINFO STREAM `last-generated-id`: deleted
 * entries count), or null when the key does not exist. Throws Redis's error for a key of another
 * type.
 */
export async function lastGeneratedId(redis: Redis, key: string): Promise<string | null> {
  // One snapshot: the type tells a missing key from a failing XINFO without reading the error.
  const [[, type], [error, info]] = (await redis.multi().type(key).xinfo('STREAM', key).exec())!;
  if (type === 'none') return null;
  if (error) throw error;
  const fields = info as unknown[];
  const at = fields.indexOf('last-generated-id');
  return at >= 0 ? String(fields[at + 1]) : null;
}
