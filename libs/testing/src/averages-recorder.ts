import { Cluster, Redis } from 'ioredis';
import { lastGeneratedId, type RedisClient } from '@temps/redis';
import { compareEntryIds } from '@temps/streams';
import type { SeenAverage } from './run-check';

/**
 * Tails temps:averages from the beginning on its own connection and keeps every entry it sees,
 * so a test can check all the averages of a run, also those the MAXLEN cap trims later. It rides
 * out Redis restarts and killed connections, resuming after the last entry it saw. With `cluster`,
 * `url` names any node of a Redis Cluster and the recorder follows temps:averages across failovers.
 */
export class AveragesRecorder {
  readonly seen: SeenAverage[] = [];
  private readonly redis: RedisClient;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(url: string, { cluster = false }: { cluster?: boolean } = {}) {
    const { hostname, port } = new URL(url);
    this.redis = cluster
      ? new Cluster([{ host: hostname, port: Number(port) }], {
          redisOptions: { maxRetriesPerRequest: null },
        })
      : new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.redis.on('error', () => undefined);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let after = '0';
    while (!this.stopped) {
      try {
        const reply = await this.redis.xread(
          'COUNT',
          1_000,
          'BLOCK',
          200,
          'STREAMS',
          'temps:averages',
          after,
        );
        // Entries after `after` deleted and the ID counter set back: read on from the new end.
        if (!reply) after = await this.setBack(after);
        for (const [, entries] of reply ?? []) {
          for (const [id, flat] of entries) {
            const fields: Record<string, string> = {};
            for (let i = 0; i < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
            this.seen.push({ id, fields });
            after = id;
          }
        }
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** After a set-back: the newest entry seen that is still below the stream's new end. */
  private async setBack(after: string): Promise<string> {
    const last = await lastGeneratedId(this.redis, 'temps:averages');
    if (last === null || compareEntryIds(last, after) >= 0) return after;
    const below = this.seen.map((a) => a.id).filter((id) => compareEntryIds(id, last) <= 0);
    return below.sort(compareEntryIds).at(-1) ?? last;
  }

  /** Resolves once the recorder has seen an entry with this ID. */
  async waitFor(id: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.seen.some((a) => a.id === id)) {
      if (Date.now() > deadline) throw new Error(`temps:averages never reached ${id}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.redis.disconnect();
  }
}
