import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  HSET_IF_ABSENT,
  defineScripts,
  lastGeneratedId,
  streamInfo,
  withTypedErrors,
  REDIS_CLIENT,
  type RedisClient,
} from '@temps/redis';
import {
  AVERAGES_STREAM,
  AveragesReaderStateHash,
  LANES_AVERAGES_READER_STATE_KEY,
  compareEntryIds,
} from '@temps/streams';
import { AVERAGES_CONFIG } from './averages.constants';
import type { AveragesConfig } from './averages-config';
import { SAVE_POSITION, SAVE_POSITION_GUARD } from './scripts/save-position.lua';

const { FIELDS } = AveragesReaderStateHash;

/** Where the reader is (AveragesReaderStateHash owns the hash). */
export type ReaderState = AveragesReaderStateHash.Position;
/** …and who saved it. */
export type SavedReaderState = AveragesReaderStateHash.Saved;

/** The averages reader's own state; it writes nothing else. */
@Injectable()
export class AveragesRepository {
  /** Saved as `written_by`: tells this process's saves from another reader's. */
  readonly instanceId = randomUUID();
  /** `averages_consumer_state`, or with lanes `averages_consumer_state{temps:averages}`. */
  readonly key: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: RedisClient,
    @Optional() @Inject(AVERAGES_CONFIG) config: Pick<AveragesConfig, 'shards'> = { shards: null },
  ) {
    defineScripts(redis, SAVE_POSITION, HSET_IF_ABSENT);
    this.key =
      config.shards === null ? AveragesReaderStateHash.KEY : LANES_AVERAGES_READER_STATE_KEY;
  }

  /** The saved position (null: none); CorruptStateError when it cannot be what a reader wrote. */
  async load(): Promise<SavedReaderState | null> {
    const hash = await this.redis.hgetall(this.key);
    if (Object.keys(hash).length === 0) return null;
    return AveragesReaderStateHash.parse(hash);
  }

  /** The highest ID temps:averages has handed out (null while the stream does not exist). */
  async lastGeneratedId(): Promise<string | null> {
    return lastGeneratedId(this.redis, AVERAGES_STREAM);
  }

  /**
   * The `seq` of temps:averages entry `id`: a number, null for an entry without one (the
   * exercise's own format), undefined when no such entry is there.
   */
  async seqOf(id: string): Promise<number | null | undefined> {
    const [entry] = await this.redis.xrange(AVERAGES_STREAM, id, id);
    if (!entry) return undefined;
    const fields = entry[1];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'seq' && /^\d+$/.test(fields[i + 1])) return Number(fields[i + 1]);
    }
    return null;
  }

  /**
   * What Redis can say of temps:averages entries after `afterId` that are gone, from XINFO STREAM:
   * 'deleted' when one above it was deleted (max-deleted-entry-id is past it: proof one was never
   * read from there); 'maybe-trimmed' when the stream removed entries and now starts after it (they
   * may all have been at or before it: Redis 7 keeps no trace of what MAXLEN trimmed); null when
   * nothing suggests it (no stream, nothing removed, or recreated since).
   */
  async removedAfter(afterId: string): Promise<'deleted' | 'maybe-trimmed' | null> {
    const info = await streamInfo(this.redis, AVERAGES_STREAM);
    if (info === null) return null;
    if (compareEntryIds(info.maxDeletedEntryId, afterId) > 0) return 'deleted';
    const startsAfter =
      info.firstEntryId === null || compareEntryIds(info.firstEntryId, afterId) > 0;
    return startsAfter && info.entriesAdded > info.length ? 'maybe-trimmed' : null;
  }

  /** Up to `count` temps:averages entries after `afterId` ('0': from the start), fields as strings. */
  async range(afterId: string, count: number): Promise<[string, string[]][]> {
    return this.redis.xrange(AVERAGES_STREAM, `(${afterId}`, '+', 'COUNT', count);
  }

  /** Saves a first state, unless one appeared meanwhile (then that one is returned). */
  async initialize(state: ReaderState): Promise<SavedReaderState> {
    await this.redis.hsetIfAbsent(
      this.key,
      ...Object.entries(AveragesReaderStateHash.serialize(state)).flat(),
      FIELDS.writtenBy,
      this.instanceId,
    );
    return (await this.load()) ?? { ...state, writtenBy: this.instanceId };
  }

  /**
   * Moves the saved position from `from` to `to`, only if it is still at `from`: a position from
   * memory never overwrites one someone else saved. Rejects, writing nothing, with StaleStateError
   * (the saved position moved: see `load` for who saved it) or StateGoneError (no state).
   */
  async save(from: ReaderState, to: ReaderState): Promise<void> {
    await withTypedErrors(
      this.redis.saveReaderPosition(
        this.key,
        ...(SAVE_POSITION_GUARD.argv({ [FIELDS.lastMessageId]: from.lastId }) as [string]),
        to.lastId,
        to.lastSeq === null ? '' : String(to.lastSeq),
        this.instanceId,
      ),
    );
  }
}
