import fc from 'fast-check';
import { advanceWhenDrained, type DrainedPartition } from './partition-cursor';
import { partitionDayStart, partitionKeyFor } from './partition-key';
import { DAY_MS, HOUR_MS, RETENTION_MS } from './time';

const DAY0 = Date.UTC(2025, 0, 1);
/** The partition `n` days after 2025-01-01 (negative: before). */
const day = (n: number) => partitionKeyFor(DAY0 + n * DAY_MS);
/** The start of that day, in ms. */
const start = (n: number) => DAY0 + n * DAY_MS;

function drained(overrides: Partial<DrainedPartition>): DrainedPartition {
  return {
    current: day(0),
    currentExists: true,
    currentStarted: true,
    existing: [day(0)],
    watermarkMs: null,
    ...overrides,
  };
}

describe('advanceWhenDrained', () => {
  it('uses partition names for the days it is given', () => {
    expect(day(0)).toBe('temps:20250101');
    expect(day(1)).toBe('temps:20250102');
    expect(day(-1)).toBe('temps:20241231');
  });

  describe('while the current partition is not finished', () => {
    it.each([
      ['early in the day', start(0) + 5 * HOUR_MS],
      ['at the very start of the day', start(0)],
      ['one ms before the day ends', start(1) - 1],
      ['before the day started', start(0) - HOUR_MS],
    ])('stays with the watermark %s', (_label, watermarkMs) => {
      expect(advanceWhenDrained(drained({ watermarkMs }))).toEqual({ kind: 'stay' });
    });

    it('stays when only older partitions exist', () => {
      const partition = drained({
        existing: [day(-3), day(-1), day(0)],
        watermarkMs: start(0) + HOUR_MS,
      });
      expect(advanceWhenDrained(partition)).toEqual({ kind: 'stay' });
    });

    it('stays on a current partition that does not exist yet', () => {
      const partition = drained({
        currentExists: false,
        currentStarted: false,
        existing: [day(-1)],
        watermarkMs: start(0) + HOUR_MS,
      });
      expect(advanceWhenDrained(partition)).toEqual({ kind: 'stay' });
    });
  });

  it('stays at temps:99991231, the last partition there can be, even once it is finished', () => {
    const last = 'temps:99991231';
    const end = partitionDayStart(last)! + DAY_MS;
    for (const currentExists of [true, false]) {
      expect(
        advanceWhenDrained(
          drained({
            current: last,
            currentExists,
            existing: currentExists ? [last] : [],
            watermarkMs: end + RETENTION_MS,
          }),
        ),
      ).toEqual({ kind: 'stay' });
    }
  });

  it('waits on a finished, existing partition while the next day does not exist yet', () => {
    // The watermark has passed the day's end (exactly), but the next day is still being written.
    for (const watermarkMs of [start(1), start(1) + 5 * HOUR_MS, start(2) - 1]) {
      expect(advanceWhenDrained(drained({ watermarkMs }))).toEqual({ kind: 'stay' });
    }
  });

  it('moves to the next day once that exists and the watermark (if any) has passed this one', () => {
    for (const watermarkMs of [null, start(1), start(1) + HOUR_MS]) {
      expect(advanceWhenDrained(drained({ existing: [day(1), day(0)], watermarkMs }))).toEqual({
        kind: 'move',
        to: day(1),
        skipped: [],
      });
    }
  });

  it('stays while the watermark is inside the day, whatever later partitions exist (early readings)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: start(0) - DAY_MS, max: start(1) - 1 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 5 }),
        (watermarkMs, later) => {
          const existing = [day(0), ...later.map(day)];
          expect(advanceWhenDrained(drained({ existing, watermarkMs }))).toEqual({ kind: 'stay' });
        },
      ),
    );
  });

  it('moves across a month and a year boundary', () => {
    const partition = drained({
      current: 'temps:20241231',
      existing: ['temps:20241231', 'temps:20250101'],
    });
    expect(advanceWhenDrained(partition)).toEqual({
      kind: 'move',
      to: 'temps:20250101',
      skipped: [],
    });
  });

  it('skips a missing day as empty once the watermark has passed it', () => {
    const partition = drained({ watermarkMs: start(2) + HOUR_MS });
    expect(advanceWhenDrained(partition)).toEqual({
      kind: 'move',
      to: day(2),
      skipped: [{ key: day(1), reason: 'empty' }],
    });
  });

  it('does not skip the next day while the watermark is still inside it', () => {
    const partition = drained({ watermarkMs: start(2) - 1 });
    expect(advanceWhenDrained(partition)).toEqual({ kind: 'stay' });
  });

  it('reports a missing current partition the aggregator had started reading as expired', () => {
    const partition = drained({
      currentExists: false,
      currentStarted: true,
      existing: [day(1)],
      watermarkMs: start(1) + HOUR_MS,
    });
    expect(advanceWhenDrained(partition)).toEqual({
      kind: 'move',
      to: day(1),
      skipped: [{ key: day(0), reason: 'expired' }],
    });
  });

  it('reports a missing current partition that was never read, recently ended, as empty', () => {
    const partition = drained({
      currentExists: false,
      currentStarted: false,
      existing: [day(1)],
      watermarkMs: start(1) + HOUR_MS,
    });
    expect(advanceWhenDrained(partition)).toEqual({
      kind: 'move',
      to: day(1),
      skipped: [{ key: day(0), reason: 'empty' }],
    });
  });

  it('reports days more than RETENTION_MS behind the watermark as expired', () => {
    expect(RETENTION_MS).toBe(2 * DAY_MS);
    // Day 0 ended at start(1); the watermark is 2 days and an hour past that.
    const partition = drained({
      currentExists: false,
      currentStarted: false,
      existing: [],
      watermarkMs: start(1) + RETENTION_MS + HOUR_MS,
    });
    expect(advanceWhenDrained(partition)).toEqual({
      kind: 'move',
      to: day(3),
      skipped: [
        { key: day(0), reason: 'expired' },
        { key: day(1), reason: 'empty' },
        { key: day(2), reason: 'empty' },
      ],
    });
  });

  it('calls a missing day empty until the watermark is RETENTION_MS past its end', () => {
    const at = (watermarkMs: number) =>
      advanceWhenDrained(
        drained({ currentExists: false, currentStarted: false, existing: [day(5)], watermarkMs }),
      );
    expect(at(start(1) + RETENTION_MS - 1)).toMatchObject({
      skipped: expect.arrayContaining([{ key: day(0), reason: 'empty' }]),
    });
    expect(at(start(1) + RETENTION_MS + 1)).toMatchObject({
      skipped: expect.arrayContaining([{ key: day(0), reason: 'expired' }]),
    });
  });

  it('jumps over several missing days to the oldest existing newer partition', () => {
    const partition = drained({ existing: [day(7), day(0), day(4)], watermarkMs: null });
    expect(advanceWhenDrained(partition)).toEqual({
      kind: 'move',
      to: day(4),
      skipped: [
        { key: day(1), reason: 'empty' },
        { key: day(2), reason: 'empty' },
        { key: day(3), reason: 'empty' },
      ],
    });
  });

  it('marks old missing days as expired, and goes no further than the watermark', () => {
    // temps:…(10) holds readings ahead of the watermark: they prove nothing about days 5 to 9.
    const partition = drained({ existing: [day(0), day(10)], watermarkMs: start(5) + HOUR_MS });
    const result = advanceWhenDrained(partition);
    expect(result).toEqual({
      kind: 'move',
      to: day(5),
      skipped: [
        { key: day(1), reason: 'expired' },
        { key: day(2), reason: 'expired' },
        { key: day(3), reason: 'empty' },
        { key: day(4), reason: 'empty' },
      ],
    });
  });

  describe('with no producer watermark (null)', () => {
    it('stays when no newer partition exists', () => {
      expect(advanceWhenDrained(drained({ existing: [day(0)] }))).toEqual({ kind: 'stay' });
      expect(advanceWhenDrained(drained({ existing: [] }))).toEqual({ kind: 'stay' });
      expect(
        advanceWhenDrained(
          drained({ currentExists: false, currentStarted: false, existing: [day(-2)] }),
        ),
      ).toEqual({ kind: 'stay' });
    });

    it('moves only to an existing newer partition', () => {
      expect(advanceWhenDrained(drained({ existing: [day(0), day(2)] }))).toEqual({
        kind: 'move',
        to: day(2),
        skipped: [{ key: day(1), reason: 'empty' }],
      });
      expect(
        advanceWhenDrained(
          drained({ currentExists: false, currentStarted: false, existing: [day(3)] }),
        ),
      ).toEqual({
        kind: 'move',
        to: day(3),
        skipped: [
          { key: day(0), reason: 'empty' },
          { key: day(1), reason: 'empty' },
          { key: day(2), reason: 'empty' },
        ],
      });
    });
  });

  it('moves forward only, skipping keys in order from current (inclusive) to target (exclusive)', () => {
    const scenario = fc
      .record({
        currentExists: fc.boolean(),
        currentStarted: fc.boolean(),
        others: fc.uniqueArray(fc.integer({ min: -5, max: 15 }), { maxLength: 8 }),
        watermark: fc.option(fc.integer({ min: -DAY_MS, max: 20 * DAY_MS }), { nil: null }),
      })
      .map(({ currentExists, currentStarted, others, watermark }) => ({
        current: day(0),
        currentExists,
        currentStarted,
        existing: [...others.filter((n) => n !== 0), ...(currentExists ? [0] : [])].map(day),
        watermarkMs: watermark === null ? null : DAY0 + watermark,
      }));

    fc.assert(
      fc.property(scenario, (partition) => {
        const result = advanceWhenDrained(partition);
        if (result.kind === 'stay') return;
        const current = partitionDayStart(partition.current)!;
        const target = partitionDayStart(result.to);
        expect(target).not.toBeNull();
        expect(target!).toBeGreaterThan(current);
        const days = result.skipped.map((s) => partitionDayStart(s.key)!);
        const problems = days.filter(
          (d, i) => d < current || d >= target! || (i > 0 && d <= days[i - 1]),
        );
        expect(problems).toEqual([]);
        expect(new Set(result.skipped.map((s) => s.key)).size).toBe(result.skipped.length);
        // Skipped days are contiguous: the missing current day (if any), then every day in between.
        const expected: string[] = [];
        if (!partition.currentExists) expected.push(partition.current);
        for (let d = current + DAY_MS; d < target!; d += DAY_MS) expected.push(partitionKeyFor(d));
        expect(result.skipped.map((s) => s.key)).toEqual(expected);
        // Nothing that exists is ever skipped.
        expect(result.skipped.filter((s) => partition.existing.includes(s.key))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
