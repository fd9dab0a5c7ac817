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
    await expect(repository.initialize(first)).resolves.toEqual(first);
    await expect(repository.initialize({ lastId: '9-0', lastSeq: 9 })).resolves.toEqual(first);
    await expect(repository.save(first, { lastId: '1-0', lastSeq: 1 })).resolves.toBe('saved');
    expect(await repository.load()).toEqual({ lastId: '1-0', lastSeq: 1 });
    // Sent again after it was applied: this process's own save.
    await expect(repository.save(first, { lastId: '1-0', lastSeq: 1 })).resolves.toBe('mine');
    await redis.hset(AVERAGES_READER_STATE_KEY, 'written_by', 'another');
    await expect(repository.save(first, { lastId: '2-0', lastSeq: 2 })).resolves.toBe('other');
    await redis.hdel(AVERAGES_READER_STATE_KEY, 'written_by');
    await expect(repository.save(first, { lastId: '2-0', lastSeq: 2 })).resolves.toBe('reset');
    await redis.del(AVERAGES_READER_STATE_KEY);
    await expect(repository.save(first, { lastId: '2-0', lastSeq: 2 })).resolves.toBe('gone');
  });
});
