import { RETENTION_MS } from './time';

/**
 * Maps simulated time onto real time: the simulation's first reading happens at the moment the run
 * starts, and `rate` simulated milliseconds pass per real millisecond. Expiry is always computed on
 * this mapping, so a fast simulation gets proportionally short-lived partitions, and a real-time run
 * starting now (rate 1, simStart = realStart) reduces to "two days after the newest reading".
 */
export class SimulatedClock {
  constructor(
    readonly simStartMs: number,
    readonly realStartMs: number,
    readonly rate: number,
  ) {
    if (!(rate > 0)) throw new RangeError(`Clock rate must be positive, got ${rate}`);
  }

  toReal(simMs: number): number {
    return this.realStartMs + (simMs - this.simStartMs) / this.rate;
  }

  toSim(realMs: number): number {
    return this.simStartMs + (realMs - this.realStartMs) * this.rate;
  }

  /** Real Unix time (ms) at which a partition whose newest reading is `newestSimMs` should expire. */
  expiryFor(newestSimMs: number): number {
    return Math.ceil(this.toReal(newestSimMs + RETENTION_MS));
  }
}
