import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CorruptStateError, HSET_IF_ABSENT, defineScripts, lastGeneratedId } from '@temps/redis';
import { AVERAGES_READER_STATE_KEY, AVERAGES_STREAM, isEntryId } from '@temps/streams';
import { SAVE_POSITION } from './scripts/save-position.lua';

export interface ReaderState {
  /** The last temps:averages entry handled ('0' before the first). */
  lastId: string;
  /** Its `seq`: how many averages the reader has seen or knows it missed. */
  lastSeq: number;
}

/**
 * What a save found: `saved`; `gone` (no state); `mine` (this process saved it already: a resend
 * after a dropped connection); `other` (another reader saved it); `reset` (set back by a start over).
 */
export type SaveOutcome = 'saved' | 'gone' | 'mine' | 'other' | 'reset';

/** The averages reader's own state; it writes nothing else. */
@Injectable()
export class AveragesRepository {
  /** Saved as `written_by`: tells this process's saves from another reader's. */
  readonly instanceId = randomUUID();

  constructor(@Inject(Redis) private readonly redis: Redis) {
    defineScripts(redis, SAVE_POSITION, HSET_IF_ABSENT);
  }

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
    return lastGeneratedId(this.redis, AVERAGES_STREAM);
  }

  /** Up to `count` temps:averages entries after `afterId` ('0': from the start), fields as strings. */
  async range(afterId: string, count: number): Promise<[string, string[]][]> {
    return this.redis.xrange(AVERAGES_STREAM, `(${afterId}`, '+', 'COUNT', count);
  }

  /** Saves a first state, unless one appeared meanwhile (then that one is returned). */
  async initialize(state: ReaderState): Promise<ReaderState> {
    await this.redis.hsetIfAbsent(
      AVERAGES_READER_STATE_KEY,
      'last_message_id',
      state.lastId,
      'last_seq',
      String(state.lastSeq),
      'written_by',
      this.instanceId,
    );
    return (await this.load()) ?? state;
  }

  /**
   * Moves the saved position from `from` to `to`, only if it is still at `from`: a position from
   * memory never overwrites one someone else saved. Returns what stood in the way otherwise.
   */
  async save(from: ReaderState, to: ReaderState): Promise<SaveOutcome> {
    const [outcome, writer] = await this.redis.saveReaderPosition(
      AVERAGES_READER_STATE_KEY,
      from.lastId,
      to.lastId,
      String(to.lastSeq),
      this.instanceId,
    );
    if (outcome === 'saved') return 'saved';
    if (outcome === 'gone') return 'gone';
    return writer === this.instanceId ? 'mine' : writer ? 'other' : 'reset';
  }
}
