import fc from 'fast-check';

const HOUR_MS = 3_600_000;

/** An hour's totals as the hourly window keeps them. */
export interface HourTotals {
  hourStartMs: number;
  total: number;
  count: number;
  min: number;
  max: number;
}

/**
 * Consistent totals of one hour (for property tests): hour-aligned start between 2000 and 2400,
 * 1..maxCount integer readings in -200..300, min <= every reading <= max.
 */
export function hourTotals(maxCount: number): fc.Arbitrary<HourTotals> {
  return fc
    .record({
      hour: fc.integer({
        min: Date.UTC(2000, 0, 1) / HOUR_MS,
        max: Date.UTC(2400, 0, 1) / HOUR_MS,
      }),
      count: fc.integer({ min: 1, max: maxCount }),
      a: fc.integer({ min: -200, max: 300 }),
      b: fc.integer({ min: -200, max: 300 }),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ hour, count, a, b, fraction }) => {
      const min = Math.min(a, b);
      const max = Math.max(a, b);
      const total = min * count + Math.round((max - min) * count * fraction);
      return { hourStartMs: hour * HOUR_MS, total, count, min, max };
    });
}
