import { ForeignEntryError, StaleStateError, StateGoneError } from '@temps/redis';
import { HOUR_MS, type HourlyAverage } from '@temps/streams';
import { usePrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';
import { initialState, type AggregatorState } from '@temps/streams';
import { AggregatorRepository } from '../src/aggregator.repository';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const PARTITION = 'temps:20250101';
const average = (hour: number): HourlyAverage => ({
  hourStartMs: JAN_1_2025 + hour * HOUR_MS,
  total: 140,
  count: 2,
  min: 69,
  max: 71,
});

/** The commit script's refusals, against a real Redis, as the typed errors the service catches. */
describe('aggregator repository: a refused commit rejects with its typed error and writes nothing', () => {
  const fixture = usePrivateRedis();
  let redis: Redis;
  let repository: AggregatorRepository;
  beforeAll(() => {
    redis = fixture.redis;
    repository = new AggregatorRepository(fixture.server.client());
  });

  const start = initialState(PARTITION);
  const at = (lastId: string): AggregatorState => ({ ...start, lastId });

  it('commits from the saved cursor', async () => {
    await repository.reset(start);
    await expect(
      repository.commit(start, at(`${JAN_1_2025 + 5}-0`), [average(0)], repository.instanceId),
    ).resolves.toEqual({ added: 1, watermarkMs: null });
    expect(await redis.hget('aggregating_consumer_state', 'last_message_id')).toBe(
      `${JAN_1_2025 + 5}-0`,
    );
  });

  it('a cursor that moved on since it was read: StaleStateError', async () => {
    await repository.reset(at(`${JAN_1_2025 + 9}-0`));
    const refused = repository.commit(
      start,
      at(`${JAN_1_2025 + 5}-0`),
      [average(0)],
      repository.instanceId,
    );
    await expect(refused).rejects.toBeInstanceOf(StaleStateError);
    await expect(refused).rejects.toMatchObject({
      message: `STALE_STATE aggregating_consumer_state moved on: expected current_stream_key=${PARTITION}, last_message_id=0, written_by=${repository.instanceId}; found current_stream_key=${PARTITION}, last_message_id=${JAN_1_2025 + 9}-0, written_by=${repository.instanceId}`,
    });
    expect(await redis.hget('aggregating_consumer_state', 'last_message_id')).toBe(
      `${JAN_1_2025 + 9}-0`,
    );
    expect(await redis.exists('temps:averages')).toBe(0);
  });

  it('the same cursor saved by another aggregator: StaleStateError, so two cannot both commit', async () => {
    await repository.reset(start);
    const other = new AggregatorRepository(fixture.server.client());
    await other.commit(start, start, [], repository.instanceId); // the other one committed last
    const refused = repository.commit(
      start,
      at(`${JAN_1_2025 + 5}-0`),
      [average(0)],
      repository.instanceId,
    );
    await expect(refused).rejects.toBeInstanceOf(StaleStateError);
    expect(await redis.hget('aggregating_consumer_state', 'written_by')).toBe(other.instanceId);
    expect(await redis.exists('temps:averages')).toBe(0);
  });

  it('a state the exercise wrote (no written_by) is committed to when no writer is expected', async () => {
    await repository.reset(start);
    await redis.hdel('aggregating_consumer_state', 'written_by');
    await expect(repository.commit(start, at(`${JAN_1_2025 + 5}-0`), [], null)).resolves.toEqual({
      added: 0,
      watermarkMs: null,
    });
    expect(await redis.hget('aggregating_consumer_state', 'written_by')).toBe(
      repository.instanceId,
    );
  });

  it('no saved state at all: StateGoneError, nothing written', async () => {
    await repository.reset(start);
    await redis.del('aggregating_consumer_state');
    const refused = repository.commit(
      start,
      at(`${JAN_1_2025 + 5}-0`),
      [average(0)],
      repository.instanceId,
    );
    await expect(refused).rejects.toBeInstanceOf(StateGoneError);
    await expect(refused).rejects.toMatchObject({
      message:
        'STATE_GONE aggregating_consumer_state disappeared from Redis while the aggregator ran',
    });
    expect(await redis.exists('aggregating_consumer_state', 'temps:averages')).toBe(0);
  });

  it('a foreign entry on top of temps:averages at the hour to add: ForeignEntryError', async () => {
    await repository.reset(start);
    await redis.xadd('temps:averages', `${JAN_1_2025 + HOUR_MS + 1}-0`, 'someone', 'else');
    const refused = repository.commit(
      start,
      at(`${JAN_1_2025 + 5}-0`),
      [average(1)],
      repository.instanceId,
    );
    await expect(refused).rejects.toBeInstanceOf(ForeignEntryError);
    await expect(refused).rejects.toMatchObject({
      detail: `temps:averages ends with entry ${JAN_1_2025 + HOUR_MS + 1}-0, which is not an hourly average, at or after the average for ${JAN_1_2025 + HOUR_MS}-0; delete it (XDEL) to let the aggregator go on`,
    });
    expect(await redis.hget('aggregating_consumer_state', 'last_message_id')).toBe('0');
    expect(await redis.xlen('temps:averages')).toBe(1);
  });

  it('averages beyond entries only deleted: the ID counter is set back and they are added', async () => {
    await repository.reset(start);
    await redis.xadd('temps:averages', `${JAN_1_2025 + 5 * HOUR_MS}-0`, 'someone', 'else');
    await redis.xdel('temps:averages', `${JAN_1_2025 + 5 * HOUR_MS}-0`);
    await expect(
      repository.commit(start, at(`${JAN_1_2025 + 5}-0`), [average(1)], repository.instanceId),
    ).resolves.toEqual({ added: 1, watermarkMs: null });
    expect((await redis.xrange('temps:averages', '-', '+')).map(([id]) => id)).toEqual([
      `${JAN_1_2025 + HOUR_MS}-0`,
    ]);
  });

  describe("averages the exercise's reference aggregator wrote (wall-clock IDs, no seq)", () => {
    const WALL_CLOCK = 1_796_614_697_089;
    const reference = (id: string, hour: number) =>
      redis.xadd(
        'temps:averages',
        id,
        'hour',
        String(hour),
        'date',
        '2025/01/01',
        'average_temp_f',
        '70',
        'num_observations',
        '3600',
      );

    it('an hour already there is not added again; a new one goes after them, numbered from 1', async () => {
      await repository.reset(start);
      await reference(`${WALL_CLOCK}-0`, 0);
      await reference(`${WALL_CLOCK + 5}-0`, 1);
      await expect(
        repository.commit(
          start,
          at(`${JAN_1_2025 + 5}-0`),
          [average(1), average(2)],
          repository.instanceId,
        ),
      ).resolves.toEqual({ added: 1, watermarkMs: null });
      const entries = await redis.xrange('temps:averages', '-', '+');
      expect(entries.map(([id]) => id)).toEqual([
        `${WALL_CLOCK}-0`,
        `${WALL_CLOCK + 5}-0`,
        `${WALL_CLOCK + 5}-1`,
      ]);
      expect(entries[2][1]).toEqual(
        expect.arrayContaining(['hour', '2', 'date', '2025/01/01', 'seq', '1']),
      );
    });

    it('with several writers and gaps: only hours after the newest average are added, in order', async () => {
      await repository.reset(start);
      await reference(`${WALL_CLOCK}-0`, 3);
      await expect(
        repository.commit(
          start,
          at(`${JAN_1_2025 + 5}-0`),
          [average(2), average(3), average(4), average(6)],
          repository.instanceId,
        ),
      ).resolves.toEqual({ added: 2, watermarkMs: null });
      const hours = (await redis.xrange('temps:averages', '-', '+')).map(
        ([, fields]) => fields[fields.indexOf('hour') + 1],
      );
      expect(hours).toEqual(['3', '4', '6']);
    });

    it('an entry that only looks like an average (a malformed date) is still foreign', async () => {
      await repository.reset(start);
      await redis.xadd(
        'temps:averages',
        `${WALL_CLOCK}-0`,
        'hour',
        '1',
        'date',
        '2025-01-01',
        'average_temp_f',
        '70',
        'num_observations',
        '1',
      );
      await expect(
        repository.commit(start, at(`${JAN_1_2025 + 5}-0`), [average(1)], repository.instanceId),
      ).rejects.toBeInstanceOf(ForeignEntryError);
    });
  });

  it('a first state is saved only once', async () => {
    await expect(repository.initialize(start)).resolves.toBe(true);
    await expect(repository.initialize(at(`${JAN_1_2025 + 5}-0`))).resolves.toBe(false);
    expect(await redis.hget('aggregating_consumer_state', 'last_message_id')).toBe('0');
  });
});
