/** How long a stop request (SIGTERM, SIGINT) may take, in every phase, before the process exits. */
export const STOP_DEADLINE_MS = 1_800;

let requested: Promise<NodeJS.Signals> | null = null;

/**
 * From the first call on, SIGTERM and SIGINT no longer end the process by Node's default action:
 * the returned promise resolves with the first of them, and the process exits 0 `STOP_DEADLINE_MS`
 * after it, whatever it is still waiting for (a Redis that accepts connections but never answers
 * would otherwise hold start-up or shutdown). Every call returns the same promise. A service calls
 * it before loading anything heavy, so a stop during a slow start-up is still a clean exit 0.
 */
export function catchStopRequests(): Promise<NodeJS.Signals> {
  requested ??= new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  }).then((signal) => {
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
    return signal;
  });
  return requested;
}
