import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export const MIN_TEMP_F = 0;
export const MAX_TEMP_F = 100;

/** Everything needed to continue the exact same sequence later (stored with the producer's position). */
export interface GeneratorState {
  rng: number[];
  temps: number[];
}

/**
 * Simulated thermometers: each device's `temp_f` is an integer in 0..100 that moves by at most 1
 * per reading (a random walk, reflected at the bounds). Deterministic for a given seed, and
 * resumable from `state()`.
 */
export class ReadingGenerator {
  private constructor(
    private readonly rng: RandomGenerator,
    private readonly temps: number[],
  ) {}

  static seeded(seed: number, devices: number): ReadingGenerator {
    const rng = xoroshiro128plus(seed);
    const temps = Array.from({ length: devices }, () => uniformInt(rng, MIN_TEMP_F, MAX_TEMP_F));
    return new ReadingGenerator(rng, temps);
  }

  static fromState(state: GeneratorState): ReadingGenerator {
    return new ReadingGenerator(xoroshiro128plusFromState(state.rng), [...state.temps]);
  }

  get devices(): number {
    return this.temps.length;
  }

  /** The state to resume from *before* the next call to `next()`. */
  state(): GeneratorState {
    return { rng: [...this.rng.getState()], temps: [...this.temps] };
  }

  /**
   * Readings for the next `ticks` seconds, device by device within each tick, appended to `out`.
   * The first tick of a run emits the starting temperatures themselves.
   */
  next(ticks: number, out: number[] = []): number[] {
    for (let tick = 0; tick < ticks; tick++) {
      for (let device = 0; device < this.temps.length; device++) {
        out.push(this.temps[device]);
        this.temps[device] = step(this.temps[device], uniformInt(this.rng, -1, 1));
      }
    }
    return out;
  }
}

function step(temp: number, delta: number): number {
  const moved = temp + delta;
  return moved < MIN_TEMP_F || moved > MAX_TEMP_F ? temp - delta : moved;
}
