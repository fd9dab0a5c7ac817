import { StaleStateError, StateGoneError } from '@temps/redis';
import { AVERAGES_READER_STATE_KEY } from '@temps/streams';
import { usePrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';
import { AveragesRepository } from '../src/averages.repository';

/** The reader's Redis access against a real Redis: its scripts and the stream's last-generated-id. */
describe('averages repository', () => {
  const fixture = usePrivateRedis();
  let redis: Redis;
  let repository: AveragesRepository;
  beforeAll(() => {
    redis = fixture.redis;
    repository = new AveragesRepository(fixture.server.client());
  });

  it('last-generated-id: null without the stream, deleted entries counted, a foreign type refused', async () => {
    await expect(repository.lastGeneratedId()).resolves.toBeNull();
    await redis.xadd('temps:averages', '3600000-0', 'hour', '1');
    await redis.xadd('temps:averages', '7200000-0', 'hour', '2');
    await redis.xdel('temps:averages', '7200000-0');
    await expect(repository.lastGeneratedId()).resolves.toBe('7200000-0');
    await redis.del('temps:averages');
    await redis.set('temps:averages', 'someone else');
    await expect(repository.lastGeneratedId()).rejects.toThrow(/WRONGTYPE/);
  });

  it('a first state is saved once; a save moves it only from where it was read', async () => {
    const first = { lastId: '0', lastSeq: 0 };
    const mine = repository.instanceId;
    await expect(repository.initialize(first)).resolves.toEqual({ ...first, writtenBy: mine });
    await expect(repository.initialize({ lastId: '9-0', lastSeq: 9 })).resolves.toEqual({
      ...first,
      writtenBy: mine,
    });
    await repository.save(first, { lastId: '1-0', lastSeq: 1 });
    expect(await repository.load()).toEqual({ lastId: '1-0', lastSeq: 1, writtenBy: mine });
    // Sent again after it was applied (or another reader's save): refused by the guard, unwritten.
    const again = repository.save(first, { lastId: '2-0', lastSeq: 2 });
    await expect(again).rejects.toBeInstanceOf(StaleStateError);
    await expect(again).rejects.toMatchObject({
      message:
        'STALE_STATE averages_consumer_state moved on: expected last_message_id=0; found last_message_id=1-0',
    });
    expect(await repository.load()).toEqual({ lastId: '1-0', lastSeq: 1, writtenBy: mine });
    await redis.del(AVERAGES_READER_STATE_KEY);
    const gone = repository.save(first, { lastId: '2-0', lastSeq: 2 });
    await expect(gone).rejects.toBeInstanceOf(StateGoneError);
    await expect(gone).rejects.toMatchObject({
      detail: 'averages_consumer_state disappeared from Redis while the reader ran',
    });
    expect(await redis.exists(AVERAGES_READER_STATE_KEY)).toBe(0);
  });

  it('a seq not known is saved as no last_seq, and read back as not known', async () => {
    await redis.hset(AVERAGES_READER_STATE_KEY, 'last_message_id', '5-0', 'last_seq', '5');
    await repository.save({ lastId: '5-0', lastSeq: 5 }, { lastId: '6-0', lastSeq: null });
    expect(await redis.hgetall(AVERAGES_READER_STATE_KEY)).toEqual({
      last_message_id: '6-0',
      written_by: repository.instanceId,
    });
    expect(await repository.load()).toMatchObject({ lastId: '6-0', lastSeq: null });
  });

  it("the seq of an entry: its field, null without one (the exercise's format), undefined when gone", async () => {
    await redis.xadd('temps:averages', '3600000-0', 'hour', '1', 'seq', '7');
    await redis.xadd('temps:averages', '7200000-0', 'hour', '2');
    await expect(repository.seqOf('3600000-0')).resolves.toBe(7);
    await expect(repository.seqOf('7200000-0')).resolves.toBeNull();
    await expect(repository.seqOf('1-0')).resolves.toBeUndefined();
  });

  it('removed after a position: deleted above it (proof), trimmed past it (maybe), else null', async () => {
    await expect(repository.removedAfter('0')).resolves.toBeNull();
    for (let i = 1; i <= 6; i++) await redis.xadd('temps:averages', `${i}-0`, 'n', String(i));
    await expect(repository.removedAfter('2-0')).resolves.toBeNull();
    await redis.xdel('temps:averages', '2-0'); // the position's own entry: nothing after it
    await expect(repository.removedAfter('2-0')).resolves.toBeNull();
    await redis.xtrim('temps:averages', 'MAXLEN', 3); // 1-0, 3-0 trimmed: the stream starts at 4-0
    await expect(repository.removedAfter('2-0')).resolves.toBe('maybe-trimmed');
    await expect(repository.removedAfter('4-0')).resolves.toBeNull();
    await redis.xdel('temps:averages', '5-0');
    await expect(repository.removedAfter('4-0')).resolves.toBe('deleted');
    await expect(repository.removedAfter('5-0')).resolves.toBeNull();
  });
});
