import { Inject, Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AVERAGES_READER_STATE_KEY, AVERAGES_STREAM, isEntryId } from '@temps/streams';

export interface ReaderState {
  /** The last temps:averages entry handled ('0' before the first). */
  lastId: string;
  /** Its `seq`: how many averages the reader has seen or knows it missed. */
  lastSeq: number;
}

export class CorruptStateError extends Error {
  override name = 'CorruptStateError';
}

/** The averages reader's own state; it writes nothing else. */
@Injectable()
export class AveragesRepository {
  constructor(@Inject(Redis) private readonly redis: Redis) {}

  async load(): Promise<ReaderState | null> {
    const hash = await this.redis.hgetall(AVERAGES_READER_STATE_KEY);
    if (Object.keys(hash).length === 0) return null;
    const { last_message_id: lastId, last_seq: rawSeq = '0' } = hash;
    if (lastId === undefined || (lastId !== '0' && !isEntryId(lastId))) {
      throw new CorruptStateError(
        `${AVERAGES_READER_STATE_KEY}.last_message_id is missing or not an entry ID ("${lastId ?? ''}"); delete the key or restart the consumers with a partition name.`,
      );
    }
    if (!/^\d+$/.test(rawSeq)) {
      throw new CorruptStateError(
        `${AVERAGES_READER_STATE_KEY}.last_seq is not a whole number ("${rawSeq}").`,
      );
    }
    return { lastId, lastSeq: Number(rawSeq) };
  }

  /** The highest ID temps:averages has handed out (null while the stream does not exist). */
  async lastGeneratedId(): Promise<string | null> {
    const info = (await this.redis.xinfo('STREAM', AVERAGES_STREAM).catch((error: Error) => {
      if (/no such key/i.test(error.message)) return null;
      throw error;
    })) as unknown[] | null;
    if (!info) return null;
    const at = info.indexOf('last-generated-id');
    return at >= 0 ? String(info[at + 1]) : null;
  }

  /** Up to `count` temps:averages entries after `afterId` ('0': from the start), fields as strings. */
  async range(afterId: string, count: number): Promise<[string, string[]][]> {
    return this.redis.xrange(AVERAGES_STREAM, `(${afterId}`, '+', 'COUNT', count);
  }

  async save(state: ReaderState): Promise<void> {
    await this.redis.hset(AVERAGES_READER_STATE_KEY, {
      last_message_id: state.lastId,
      last_seq: String(state.lastSeq),
    });
  }
}
