import fc from 'fast-check';
import { partitionKeyFor } from './partition-key';
import { headroomMs, type LivePartition } from './retention';
import { DAY_MS } from './time';

const DAY0 = Date.UTC(2025, 0, 1);
const day = (n: number) => partitionKeyFor(DAY0 + n * DAY_MS);

describe('headroomMs', () => {
  const live: LivePartition[] = [
    { key: day(2), ttlMs: 300_000 },
    { key: day(0), ttlMs: 100_000 },
    { key: day(1), ttlMs: 200_000 },
  ];

  it("is the TTL of the consumer's own partition while it exists", () => {
    expect(headroomMs(day(0), live)).toBe(100_000);
    expect(headroomMs(day(1), live)).toBe(200_000);
    expect(headroomMs(day(2), live)).toBe(300_000);
  });

  it('is the TTL of the next partition that exists when its own is gone (expired or empty day)', () => {
    expect(headroomMs(day(-1), live)).toBe(100_000);
    const gap = live.filter((p) => p.key !== day(1));
    expect(headroomMs(day(1), gap)).toBe(300_000);
  });

  it("looks only at the cursor's own lane (lane partitions sort apart from other lanes')", () => {
    const lane = (n: number, tag: string) => partitionKeyFor(DAY0 + n * DAY_MS, tag);
    const lanes: LivePartition[] = [
      { key: lane(0, '0.3'), ttlMs: 50_000 },
      { key: lane(1, '0.3'), ttlMs: 150_000 },
      { key: lane(1, '1.2'), ttlMs: 170_000 },
      ...live,
    ];
    expect(headroomMs(lane(1, '0.3'), lanes)).toBe(150_000);
    expect(headroomMs(lane(0, '1.2'), lanes)).toBe(170_000);
    expect(headroomMs(lane(2, '0.3'), lanes)).toBeNull();
    // The exercise's layout ignores every lane.
    expect(headroomMs(day(0), lanes)).toBe(100_000);
  });

  it('is null when nothing unread is left, or it never expires', () => {
    expect(headroomMs(day(3), live)).toBeNull();
    expect(headroomMs(day(0), [])).toBeNull();
    expect(headroomMs(day(0), [{ key: day(0), ttlMs: null }])).toBeNull();
  });

  it('ignores keys that are not day partitions', () => {
    const foreign = [
      { key: 'temps:averages', ttlMs: 1 },
      { key: 'temps:garbage', ttlMs: 2 },
    ];
    expect(headroomMs(day(0), [...foreign, ...live])).toBe(100_000);
  });

  it('is the TTL of the oldest partition at or after the cursor, in any order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: -400, max: 400 }), { maxLength: 20 }),
        fc.integer({ min: -500, max: 500 }),
        (days, cursor) => {
          const partitions = days.map((n) => ({ key: day(n), ttlMs: (n + 1000) * 1_000 }));
          const unread = days.filter((n) => n >= cursor);
          const expected = unread.length ? (Math.min(...unread) + 1000) * 1_000 : null;
          expect(headroomMs(day(cursor), partitions)).toBe(expected);
        },
      ),
    );
  });
});
