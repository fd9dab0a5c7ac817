import type { RedisClient } from './redis-client';

/**
 * The highest entry ID stream `key` has handed out (XINFO STREAM `last-generated-id`: deleted
 * entries count), or null when the key does not exist. Throws Redis's error for a key of another
 * type.
 */
export async function lastGeneratedId(redis: RedisClient, key: string): Promise<string | null> {
  // One snapshot: the type tells a missing key from a failing XINFO without reading the error.
  const [[, type], [error, info]] = (await redis.multi().type(key).xinfo('STREAM', key).exec())!;
  if (type === 'none') return null;
  if (error) throw error;
  const fields = info as unknown[];
  const at = fields.indexOf('last-generated-id');
  return at >= 0 ? String(fields[at + 1]) : null;
}

export interface StreamInfo {
  /** The highest ID the stream has handed out (deleted entries count). */
  lastGeneratedId: string;
  /** The highest ID of an entry XDEL deleted from it ('0-0': none; Redis 7.0 does not count trims). */
  maxDeletedEntryId: string;
  /** Its first entry's ID, or null when it is empty. */
  firstEntryId: string | null;
  /** Entries it holds, and entries ever added to it (removed ones count). */
  length: number;
  entriesAdded: number;
}

/**
 * What XINFO STREAM says of `key` about entries it no longer holds, or null when the key does not
 * exist. Throws Redis's error for a key of another type.
 */
export async function streamInfo(redis: RedisClient, key: string): Promise<StreamInfo | null> {
  const [[, type], [error, info]] = (await redis.multi().type(key).xinfo('STREAM', key).exec())!;
  if (type === 'none') return null;
  if (error) throw error;
  const fields = info as unknown[];
  const field = (name: string) => {
    const at = fields.indexOf(name);
    return at >= 0 ? fields[at + 1] : null;
  };
  const first = field('first-entry') as [string, unknown] | null;
  return {
    lastGeneratedId: String(field('last-generated-id') ?? '0-0'),
    maxDeletedEntryId: String(field('max-deleted-entry-id') ?? '0-0'),
    firstEntryId: first ? String(first[0]) : null,
    length: Number(field('length') ?? 0),
    entriesAdded: Number(field('entries-added') ?? 0),
  };
}
