/** The error `withTimeout` rejects with: the promise did not settle within `ms`. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/**
 * `promise`'s outcome if it settles within `ms` (milliseconds), else a rejection with
 * `TimeoutError`. The promise itself goes on; its later rejection is not reported as unhandled.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits for `promise` to settle, but at most `ms` (milliseconds); never rejects. Resolves true if it
 * settled in time (fulfilled or rejected), false if the wait ended first. For shutdown steps that
 * must not hold a stop up.
 */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withTimeout(
    promise.then(
      () => true,
      () => true,
    ),
    ms,
  ).catch(() => false);
}
