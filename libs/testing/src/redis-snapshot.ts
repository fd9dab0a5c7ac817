import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Every key with its type and serialized value: equal snapshots mean Redis was left byte-for-byte unchanged. */
export async function snapshotRedis(redis: Redis): Promise<Map<string, string>> {
  const keys = (await redis.keys('*')).sort();
  const snapshot = new Map<string, string>();
  for (const key of keys) {
    const dump = await redis.dumpBuffer(key);
    snapshot.set(key, dump ? createHash('sha256').update(dump).digest('hex') : 'gone');
  }
  return snapshot;
}

/** All entries of a stream as `id field value …` lines, read in pages. */
export async function readStream(redis: Redis, key: string, page = 50_000): Promise<string[]> {
  const lines: string[] = [];
  let from = '-';
  for (;;) {
    const entries = await redis.xrange(key, from, '+', 'COUNT', page);
    for (const [id, fields] of entries) lines.push(`${id} ${fields.join(' ')}`);
    if (entries.length < page) return lines;
    from = `(${entries[entries.length - 1][0]}`;
  }
}

/** A digest of a stream's full contents (IDs and fields). */
export async function streamDigest(redis: Redis, key: string): Promise<string> {
  return createHash('sha256')
    .update((await readStream(redis, key)).join('\n'))
    .digest('hex');
}
