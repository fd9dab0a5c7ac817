import fc from 'fast-check';
import {
  PARTITION_RANGE,
  isPartitionKey,
  nextPartitionKey,
  partitionDayStart,
  partitionKeyFor,
  partitionKeysBetween,
} from './partition-key';
import { DAY_MS } from './time';

const YEAR_2000 = Date.UTC(2000, 0, 1);
const YEAR_2400 = Date.UTC(2400, 0, 1);
const instant = fc.integer({ min: YEAR_2000, max: YEAR_2400 });

describe('partition keys', () => {
  it.each([
    ['2025-01-01T00:00:00.000Z', 'temps:20250101'],
    ['2025-01-05T00:00:00.000Z', 'temps:20250105'],
    ['2025-01-31T23:59:59.999Z', 'temps:20250131'],
    ['2024-02-29T12:00:00.000Z', 'temps:20240229'],
    ['2024-12-31T23:59:59.999Z', 'temps:20241231'],
    ['2025-01-01T00:00:00.000Z', 'temps:20250101'],
  ])('names the UTC day of %s as %s', (iso, key) => {
    expect(partitionKeyFor(Date.parse(iso))).toBe(key);
  });

  it.each([
    ['temps:20250131', 'temps:20250201'],
    ['temps:20241231', 'temps:20250101'],
    ['temps:20240228', 'temps:20240229'],
    ['temps:20240229', 'temps:20240301'],
    ['temps:20250228', 'temps:20250301'],
    ['temps:21000228', 'temps:21000301'],
    ['temps:20000228', 'temps:20000229'],
  ])('follows %s with %s across month, year and leap days', (key, next) => {
    expect(nextPartitionKey(key)).toBe(next);
  });

  it.each([
    'temps:averages',
    'temps:garbage',
    'temps:2025010',
    'temps:202501011',
    'temps:20250230',
    'temps:20251301',
    'temps:20250100',
    'temps:20250229',
    'temp:20250101',
    ' temps:20250101',
    'temps:20250101 ',
    'temps:19691231',
    'temps:17760704',
    'temps:00000101',
    'temps:00010101',
  ])('rejects %j as a partition name', (key) => {
    expect(isPartitionKey(key)).toBe(false);
    expect(() => nextPartitionKey(key)).toThrow('Not a partition key');
  });

  it('accepts the first and the last day eight digits and stream IDs can hold', () => {
    expect(partitionDayStart('temps:19700101')).toBe(PARTITION_RANGE.startMs);
    expect(partitionDayStart('temps:99991231')).toBe(PARTITION_RANGE.endMs - DAY_MS);
    expect(partitionKeyFor(PARTITION_RANGE.endMs - 1)).toBe('temps:99991231');
    expect(nextPartitionKey('temps:99991230')).toBe('temps:99991231');
    expect(nextPartitionKey('temps:99991231')).toBeNull();
  });

  it('names every day of the range with a partition name that round-trips', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: PARTITION_RANGE.startMs, max: PARTITION_RANGE.endMs - 1 }),
        (ms) => {
          const key = partitionKeyFor(ms);
          expect(key).toMatch(/^temps:\d{8}$/);
          expect(partitionDayStart(key)).toBe(Math.floor(ms / DAY_MS) * DAY_MS);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('maps every instant into the day its partition names', () => {
    fc.assert(
      fc.property(instant, (ms) => {
        const start = partitionDayStart(partitionKeyFor(ms));
        expect(start).not.toBeNull();
        expect(ms - start!).toBeGreaterThanOrEqual(0);
        expect(ms - start!).toBeLessThan(DAY_MS);
      }),
    );
  });

  it('orders partition names as their days', () => {
    fc.assert(
      fc.property(instant, instant, (a, b) => {
        const [ka, kb] = [partitionKeyFor(a), partitionKeyFor(b)];
        expect(Math.sign(ka.localeCompare(kb))).toBe(
          Math.sign(partitionDayStart(ka)! - partitionDayStart(kb)!),
        );
      }),
    );
  });

  it('lists the partitions of a range without gaps or repeats', () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: 1, max: 40 * DAY_MS }), (from, length) => {
        const keys = partitionKeysBetween(from, from + length);
        expect(keys[0]).toBe(partitionKeyFor(from));
        expect(keys[keys.length - 1]).toBe(partitionKeyFor(from + length - 1));
        keys.slice(1).forEach((key, i) => expect(key).toBe(nextPartitionKey(keys[i])));
      }),
    );
  });
});
