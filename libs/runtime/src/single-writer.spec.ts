import fc from 'fast-check';
import { SingleWriter } from './single-writer';

describe('SingleWriter', () => {
  let now: number;
  const writer = () => new SingleWriter<string>({ quietMs: 10_000, now: () => now });
  beforeEach(() => (now = 0));

  it('writes (takes over at once) until a write is refused', () => {
    const w = writer();
    expect(w.standingBy).toBe(false);
    expect(w.poll('a')).toBe('take-over');
  });

  it('after a refusal waits until the saved state has been quiet for the period, then takes over', () => {
    const w = writer();
    expect(w.onRefused('a')).toBe(true);
    now = 9_999;
    expect(w.poll('a')).toBe('wait');
    expect(w.standingBy).toBe(true);
    now = 10_000;
    expect(w.poll('a')).toBe('take-over');
    expect(w.standingBy).toBe(false);
  });

  it('starts the quiet period again whenever the other instance saves', () => {
    const w = writer();
    w.onRefused('a');
    now = 8_000;
    expect(w.poll('b')).toBe('wait');
    now = 17_999;
    expect(w.poll('b')).toBe('wait');
    now = 18_000;
    expect(w.poll('b')).toBe('take-over');
  });

  it('says a standby started once: a second refusal while standing by is not a new one', () => {
    const w = writer();
    expect(w.onRefused('a')).toBe(true);
    now = 9_000;
    expect(w.onRefused('a')).toBe(false);
    now = 10_000;
    expect(w.poll('a')).toBe('take-over');
    expect(w.onRefused('c')).toBe(true);
  });

  it('compares saved states by value (a reloaded object is the same state)', () => {
    const w = new SingleWriter<{ id: string } | null>({ quietMs: 10_000, now: () => now });
    w.onRefused({ id: '1-0' });
    now = 10_000;
    expect(w.poll({ id: '1-0' })).toBe('take-over');
  });

  it('takes over exactly when the last change is at least the quiet period ago', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            after: fc.integer({ min: 0, max: 5_000 }),
            state: fc.integer({ min: 0, max: 2 }),
          }),
          { maxLength: 30 },
        ),
        (steps) => {
          let clock = 0;
          let state = 0;
          let changedAt = 0;
          const w = new SingleWriter<number>({ quietMs: 10_000, now: () => clock });
          w.onRefused(state);
          for (const step of steps) {
            clock += step.after;
            if (step.state !== state) {
              state = step.state;
              changedAt = clock;
            }
            const quiet = clock - changedAt >= 10_000;
            expect(w.poll(state)).toBe(quiet ? 'take-over' : 'wait');
            if (quiet) {
              w.onRefused(state);
              changedAt = clock;
            }
          }
        },
      ),
    );
  });
});
