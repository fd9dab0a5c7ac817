import fc from 'fast-check';
import { SimulatedClock } from './simulated-clock';
import { DAY_MS } from './time';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

describe('SimulatedClock', () => {
  it('maps the simulation start onto the real start', () => {
    const clock = new SimulatedClock(JAN_1_2025, 1_800_000_000_000, 3600);
    expect(clock.toReal(JAN_1_2025)).toBe(1_800_000_000_000);
    expect(clock.toSim(1_800_000_000_000)).toBe(JAN_1_2025);
  });

  it('round-trips between simulated and real time at any rate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 41 }),
        fc.integer({ min: 0, max: 2 ** 41 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 365 * DAY_MS }),
        (simStart, realStart, rate, offset) => {
          const clock = new SimulatedClock(simStart, realStart, rate);
          // Within one microsecond of real time, whatever the rate.
          const drift = Math.abs(
            clock.toSim(clock.toReal(simStart + offset)) - (simStart + offset),
          );
          expect(drift).toBeLessThanOrEqual(rate / 1_000);
        },
      ),
    );
  });

  it('expires a day partition 2 days after its newest reading, scaled by the rate', () => {
    const now = 1_800_000_000_000;
    const realTime = new SimulatedClock(JAN_1_2025, now, 1);
    const lastOfDay1 = JAN_1_2025 + DAY_MS - 1_000;
    expect(realTime.expiryFor(lastOfDay1) - now).toBe(3 * DAY_MS - 1_000);

    const fast = new SimulatedClock(JAN_1_2025, now, 3600);
    expect(fast.expiryFor(JAN_1_2025) - now).toBe(48_000);
    expect(fast.expiryFor(lastOfDay1) - now).toBe(72_000);
  });

  it('reduces to the seed rule when the simulation runs in real time from now', () => {
    const now = 1_800_000_000_000;
    const clock = new SimulatedClock(now, now, 1);
    expect(clock.expiryFor(now + 5_000)).toBe(now + 5_000 + 2 * DAY_MS);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new SimulatedClock(0, 0, 0)).toThrow('rate must be positive');
  });
});
