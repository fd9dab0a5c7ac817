import fc from 'fast-check';
import { MAX_TEMP_F, MIN_TEMP_F, ReadingGenerator } from './reading-generator';

const seed = fc.integer();
const devices = fc.integer({ min: 1, max: 5 });

describe('ReadingGenerator', () => {
  it('keeps every device within 0..100, moving by at most 1 per reading', () => {
    fc.assert(
      fc.property(seed, devices, (s, n) => {
        const temps = ReadingGenerator.seeded(s, n).next(2_000);
        const outOfRange = temps.filter(
          (t) => !Number.isInteger(t) || t < MIN_TEMP_F || t > MAX_TEMP_F,
        );
        const jumps = temps.filter((t, i) => i >= n && Math.abs(t - temps[i - n]) > 1);
        expect(temps).toHaveLength(2_000 * n);
        expect(outOfRange).toEqual([]);
        expect(jumps).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });

  it('produces identical readings for the same seed and different ones otherwise', () => {
    fc.assert(
      fc.property(seed, seed, devices, (a, b, n) => {
        fc.pre(a !== b);
        const first = ReadingGenerator.seeded(a, n).next(500);
        expect(ReadingGenerator.seeded(a, n).next(500)).toEqual(first);
        expect(ReadingGenerator.seeded(b, n).next(500)).not.toEqual(first);
      }),
      { numRuns: 50 },
    );
  });

  it('continues the same sequence when restored from its state at any point', () => {
    fc.assert(
      fc.property(seed, devices, fc.integer({ min: 0, max: 300 }), (s, n, split) => {
        const whole = ReadingGenerator.seeded(s, n).next(300);
        const first = ReadingGenerator.seeded(s, n);
        const head = first.next(split);
        const state = JSON.parse(JSON.stringify(first.state()));
        const tail = ReadingGenerator.fromState(state).next(300 - split);
        expect([...head, ...tail]).toEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('walks rather than standing still', () => {
    const temps = ReadingGenerator.seeded(7, 1).next(3_600);
    expect(new Set(temps).size).toBeGreaterThan(5);
  });
});
