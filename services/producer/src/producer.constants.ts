import { setTimeout as sleep } from 'node:timers/promises';

/** Injection token for the validated ProducerConfig. */
export const PRODUCER_CONFIG = Symbol('PRODUCER_CONFIG');

/** Injection token for the runner's clock (real time unless a test gives a fake one). */
export const PRODUCER_CLOCK = Symbol('PRODUCER_CLOCK');

/** The time the runner reads and waits on. */
export interface RunnerClock {
  /** Real Unix ms. */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const SYSTEM_CLOCK: RunnerClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
};
