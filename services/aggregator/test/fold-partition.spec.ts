import fc from 'fast-check';
import {
  DAY_MS,
  EMPTY_WINDOW,
  HOUR_MS,
  LaneStateHash,
  PRODUCER_STATE_KEY,
  ProducerStateHash,
  foldPartition,
  initialState,
  startOfHour,
  type AggregatorState,
  type FoldRange,
} from '@temps/streams';
import { partitionEntries, usePrivateRedis, type RawEntry } from '@temps/testing';
import type { Redis } from 'ioredis';
import { AggregatorRepository } from '../src/aggregator.repository';

const DAY = Date.UTC(2025, 0, 1);
const KEY = 'temps:20250101';

/** Everything a fold starts from, drawn so that every branch of the script is reached. */
const foldCase = partitionEntries(DAY, 300).chain((entries) => {
  const ids = entries.map(([id]) => id);
  const times = ids.map((id) => Number(id.split('-')[0]));
  const someTime = times.length > 0 ? fc.constantFrom(...times) : fc.constant(DAY);
  const hour = fc.integer({ min: 0, max: 23 }).map((h) => DAY + h * HOUR_MS);
  return fc.record({
    entries: fc.constant(entries),
    range: fc.oneof(
      fc.record({
        start: fc.oneof(
          fc.constant({ afterId: '0' }),
          ids.length > 0
            ? fc.constantFrom(...ids).map((afterId) => ({ afterId }))
            : fc.constant({ afterId: '0' }),
        ),
        untilMs: fc.option(
          hour.map((h) => h + HOUR_MS),
          { nil: null },
        ),
      }),
      fc.record({
        start: hour.map((hourMs) => ({ hourMs })),
        untilMs: fc.option(
          hour.map((h) => h + 2 * HOUR_MS),
          { nil: null },
        ),
      }),
    ) as fc.Arbitrary<FoldRange>,
    bound: fc.integer({ min: 1, max: 400 }),
    watermarkMs: fc.option(
      fc.oneof(someTime, fc.integer({ min: DAY, max: DAY + DAY_MS + HOUR_MS })),
      {
        nil: null,
      },
    ),
    // Not only hour starts: an entry's own time tests the boundary exactly.
    publishedUntilMs: fc.oneof(fc.constant(0), hour, someTime.map(startOfHour), someTime),
    earlyThrough: fc.option(ids.length > 0 ? fc.constantFrom(...ids) : fc.constant(`${DAY}-0`), {
      nil: null,
    }),
    // The open hour the fold continues: none, or one with decimal totals.
    window: fc.oneof(
      fc.constant(EMPTY_WINDOW),
      fc
        .tuple(
          hour,
          fc.integer({ min: 1, max: 50 }),
          fc.double({ min: -100, max: 200, noNaN: true }),
        )
        .map(([hourStartMs, count, temp]) => ({
          hourStartMs,
          total: temp * count + 0.1,
          count,
          min: temp - 1,
          max: temp + 1,
        })),
    ),
  });
});

/**
 * The fold script against its specification (`foldPartition`): for random partitions, ranges,
 * bounds, watermarks and open hours, Redis returns exactly what the TypeScript fold returns —
 * the same hours with the same doubles, the same rejections, cursor, early entries and flags.
 */
describe('the fold inside Redis is the TypeScript fold, bit for bit', () => {
  const fixture = usePrivateRedis();
  let redis: Redis;
  let repository: AggregatorRepository;
  beforeAll(() => {
    redis = fixture.redis;
    repository = new AggregatorRepository(fixture.server.client());
  });

  async function load(entries: readonly RawEntry[], watermarkMs: number | null): Promise<void> {
    const pipeline = redis.pipeline().del(KEY, PRODUCER_STATE_KEY);
    for (const [id, fields] of entries) pipeline.xadd(KEY, id, ...fields);
    if (watermarkMs !== null) {
      pipeline.hset(PRODUCER_STATE_KEY, ProducerStateHash.FIELDS.watermarkMs, String(watermarkMs));
    }
    await pipeline.exec();
  }

  it('reads only below a lane’s confirmed mark, and never takes a range it cut short as complete', async () => {
    // Readings every minute of hours 0–3; the producer's watermark at 04:00, replicas confirmed
    // up to 01:30.
    const entries: RawEntry[] = Array.from({ length: 240 }, (_, m) => [
      `${DAY + m * 60_000}-0`,
      ['temp_f', '50'],
    ]);
    await load(entries, DAY + 4 * HOUR_MS);
    const confirm = (ms: number) =>
      redis.hset(PRODUCER_STATE_KEY, LaneStateHash.FIELDS.confirmedMs, String(ms));
    await confirm(DAY + 90 * 60_000);
    const hourOne: FoldRange = { start: { hourMs: DAY + HOUR_MS }, untilMs: DAY + 2 * HOUR_MS };
    const cut = await repository.fold(initialState(KEY), hourOne, 1_000);
    expect(cut.watermarkMs).toBe(DAY + 90 * 60_000);
    expect(cut.fold.consumed).toBe(30);
    expect(cut.fold.lastId).toBe(`${DAY + 89 * 60_000}-0`);
    // The stream holds entries past 02:00, but the read stopped at 01:30: the hour is not complete.
    expect(cut.fold.more).toBe(false);
    // Confirmed past the range's end: read whole, and complete.
    await confirm(DAY + 3 * HOUR_MS);
    const whole = await repository.fold(initialState(KEY), hourOne, 1_000);
    expect(whole.fold.consumed).toBe(60);
    expect(whole.fold.more).toBe(true);
    await redis.hdel(PRODUCER_STATE_KEY, LaneStateHash.FIELDS.confirmedMs);
  });

  it("compares IDs past a double's precision exactly (early entries counted once)", async () => {
    const at = DAY + HOUR_MS;
    const entries: RawEntry[] = [
      [`${at}-9007199254740992`, ['temp_f', '1']],
      [`${at}-9007199254740993`, ['temp_f', '2']],
      [`${at}-18446744073709551615`, ['temp_f', '3']],
    ];
    await load(entries, DAY);
    const range: FoldRange = { start: { afterId: '0' }, untilMs: null };
    for (const earlyThrough of [`${at}-9007199254740992`, `${at}-9007199254740993`, `${at}-1`]) {
      const state = { ...initialState(KEY), earlyThrough };
      const read = await repository.fold(state, range, 10);
      const input = {
        dayStartMs: DAY,
        publishedUntilMs: 0,
        watermarkMs: DAY,
        window: EMPTY_WINDOW,
        earlyThrough,
      };
      expect(read.fold.early).toEqual(foldPartition(input, entries, range, 10).early);
    }
  });

  it('for any partition, range, bound, watermark and open hour', async () => {
    await fc.assert(
      fc.asyncProperty(foldCase, async (c) => {
        await load(c.entries, c.watermarkMs);
        const state: AggregatorState = {
          ...initialState(KEY),
          window: c.window,
          publishedUntilMs: c.publishedUntilMs,
          earlyThrough: c.earlyThrough,
        };
        const read = await repository.fold(state, c.range, c.bound);
        const expected = foldPartition({ dayStartMs: DAY, ...c }, c.entries, c.range, c.bound);
        expect(read.watermarkMs).toBe(c.watermarkMs);
        expect({ ...read.fold, rejected: sorted(read.fold.rejected) }).toEqual({
          ...expected,
          rejected: sorted(expected.rejected),
        });
        // toEqual does not tell -0 from 0: the doubles themselves, one by one.
        const hours = (fold: typeof expected) => [...fold.closed, fold.window];
        hours(read.fold).forEach((hour, i) => {
          for (const key of ['total', 'min', 'max'] as const) {
            expect(Object.is(hour[key], hours(expected)[i][key])).toBe(true);
          }
        });
      }),
      { numRuns: 150 },
    );
  });
});

function sorted(rejected: Partial<Record<string, number>>): [string, number][] {
  return Object.entries(rejected as Record<string, number>).sort(([a], [b]) => a.localeCompare(b));
}
