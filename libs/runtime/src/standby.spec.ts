import fc from 'fast-check';
import { Standby } from './standby';

describe('Standby', () => {
  it('is quiet only once the saved state has not changed for the quiet period', () => {
    let now = 0;
    const standby = new Standby({ at: 1 }, 10_000, () => now);
    now = 9_999;
    expect(standby.isQuiet({ at: 1 })).toBe(false);
    now = 10_000;
    expect(standby.isQuiet({ at: 1 })).toBe(true);
  });

  it('starts the period again whenever the state changes', () => {
    let now = 0;
    const standby = new Standby('a', 10_000, () => now);
    now = 8_000;
    expect(standby.isQuiet('b')).toBe(false);
    now = 17_000;
    expect(standby.isQuiet('b')).toBe(false);
    now = 18_000;
    expect(standby.isQuiet('b')).toBe(true);
  });

  it('is quiet exactly when the last change is at least the quiet period ago', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            after: fc.integer({ min: 0, max: 5_000 }),
            state: fc.integer({ min: 0, max: 2 }),
          }),
          {
            maxLength: 30,
          },
        ),
        (steps) => {
          let now = 0;
          let state = 0;
          let changedAt = 0;
          const standby = new Standby(state, 10_000, () => now);
          for (const step of steps) {
            now += step.after;
            if (step.state !== state) {
              state = step.state;
              changedAt = now;
            }
            expect(standby.isQuiet(state)).toBe(now - changedAt >= 10_000);
          }
        },
      ),
    );
  });
});
