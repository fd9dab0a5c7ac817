import {
  ForeignEntryError,
  ForeignKeyError,
  RedisOutOfMemoryError,
  StaleStateError,
  StateGoneError,
} from '@temps/redis';
import { ReadingGenerator } from '@temps/streams';
import { usePrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';
import { ProducerRepository, type Batch, type SavedRun } from '../src/producer.repository';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const PARTITION = 'temps:20250101';

/** The write script's refusals, against a real Redis, as the typed errors the runner catches. */
describe('producer repository: a refused batch rejects with its typed error and writes nothing', () => {
  const fixture = usePrivateRedis();
  let redis: Redis;
  let repository: ProducerRepository;
  beforeAll(() => {
    redis = fixture.redis;
    repository = new ProducerRepository(fixture.server.client());
  });

  const generator = ReadingGenerator.seeded(1, 1).state();
  const run: SavedRun = {
    runId: 'run-1',
    startMs: JAN_1_2025,
    endMs: JAN_1_2025 + 3_600_000,
    intervalMs: 1_000,
    devices: 1,
    seed: 1,
    rate: 1,
    paced: false,
    realStartMs: Date.now(),
    watermarkMs: JAN_1_2025,
    generator,
  };
  const batch = (firstMs = JAN_1_2025): Batch => ({
    partition: PARTITION,
    firstMs,
    temps: [70, 71, 72],
    expireAtMs: Date.now() + 60_000,
    watermarkMs: firstMs + 3_000,
    generator,
  });
  const untouched = async () => {
    expect(await redis.hget('producer_state', 'watermark_ms')).toBe(String(JAN_1_2025));
  };

  it('writes a batch where the saved position says', async () => {
    await repository.startRun([PARTITION], run);
    await expect(repository.writeBatch(run, batch())).resolves.toBe(3);
    expect(await redis.xlen(PARTITION)).toBe(3);
  });

  it('a batch not at the saved position: StaleStateError from the guard', async () => {
    await repository.startRun([PARTITION], run);
    const refused = repository.writeBatch(run, batch(JAN_1_2025 + 5_000));
    await expect(refused).rejects.toBeInstanceOf(StaleStateError);
    await expect(refused).rejects.toMatchObject({
      message: `STALE_STATE producer_state moved on: expected run_id=run-1, watermark_ms=${JAN_1_2025 + 5_000}; found run_id=run-1, watermark_ms=${JAN_1_2025}`,
    });
    await untouched();
    expect(await redis.exists(PARTITION)).toBe(0);
  });

  it('the state gone: StateGoneError', async () => {
    const refused = repository.writeBatch(run, batch());
    await expect(refused).rejects.toBeInstanceOf(StateGoneError);
    await expect(refused).rejects.toMatchObject({
      detail: 'producer_state disappeared from Redis while the producer ran',
    });
    expect(await redis.exists(PARTITION)).toBe(0);
  });

  it('another run saved: StaleStateError from the guard', async () => {
    await repository.startRun([PARTITION], { ...run, runId: 'run-2' });
    const refused = repository.writeBatch(run, batch());
    await expect(refused).rejects.toBeInstanceOf(StaleStateError);
    await expect(refused).rejects.toMatchObject({
      detail: `producer_state moved on: expected run_id=run-1, watermark_ms=${JAN_1_2025}; found run_id=run-2, watermark_ms=${JAN_1_2025}`,
    });
    expect(await redis.exists(PARTITION)).toBe(0);
  });

  it('the partition of another type: ForeignKeyError', async () => {
    await repository.startRun([], run);
    await redis.hset(PARTITION, 'someone', 'else');
    const refused = repository.writeBatch(run, batch());
    await expect(refused).rejects.toBeInstanceOf(ForeignKeyError);
    await expect(refused).rejects.toMatchObject({
      detail: `${PARTITION} is a hash, not a stream; delete it to let the producer write that day`,
    });
    await untouched();
  });

  it('an entry someone else wrote at the next reading: ForeignEntryError', async () => {
    await repository.startRun([], run);
    await redis.xadd(PARTITION, `${JAN_1_2025 + 1_000}-0`, 'temp_f', '1');
    const refused = repository.writeBatch(run, batch());
    await expect(refused).rejects.toBeInstanceOf(ForeignEntryError);
    await expect(refused).rejects.toMatchObject({
      detail: `${PARTITION} holds entry ${JAN_1_2025 + 1_000}-0, which this producer did not write, at or after its next reading ${JAN_1_2025}-0; delete the entry (XDEL) or the partition`,
    });
    await untouched();
    expect(await redis.xlen(PARTITION)).toBe(1);
  });

  it('only deleted entries there: the ID counter is set back and the batch written', async () => {
    await repository.startRun([], run);
    await redis.xadd(PARTITION, `${JAN_1_2025 - 1_000}-0`, 'temp_f', '1');
    await redis.xadd(PARTITION, `${JAN_1_2025 + 9_000}-0`, 'temp_f', '1');
    await redis.xdel(PARTITION, `${JAN_1_2025 + 9_000}-0`);
    await expect(repository.writeBatch(run, batch())).resolves.toBe(3);
    expect((await redis.xrange(PARTITION, '-', '+')).map(([id]) => id)).toEqual([
      `${JAN_1_2025 - 1_000}-0`,
      `${JAN_1_2025}-0`,
      `${JAN_1_2025 + 1_000}-0`,
      `${JAN_1_2025 + 2_000}-0`,
    ]);
  });

  it("Redis's own OOM: RedisOutOfMemoryError", async () => {
    await repository.startRun([PARTITION], run);
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.config('SET', 'maxmemory', '1');
    try {
      const refused = repository.writeBatch(run, batch());
      await expect(refused).rejects.toBeInstanceOf(RedisOutOfMemoryError);
      await expect(refused).rejects.toMatchObject({ message: expect.stringMatching(/^OOM /) });
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    await untouched();
  });
});
