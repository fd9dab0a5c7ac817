import { TimeoutError, waitAtMost, withTimeout } from './timeout';

const later = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('withTimeout', () => {
  it('passes on an outcome that comes in time', async () => {
    await expect(withTimeout(later(5, 'ok'), 1_000)).resolves.toBe('ok');
    await expect(withTimeout(Promise.reject(new Error('no')), 1_000)).rejects.toThrow('no');
  });

  it('rejects with TimeoutError when the promise is too slow, and leaves no unhandled rejection', async () => {
    const slow = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 40));
    const error = await withTimeout(slow, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).ms).toBe(10);
    expect((error as Error).message).toBe('timed out after 10 ms');
    await later(60, null); // the late rejection lands here, handled
  });
});

describe('waitAtMost', () => {
  it('says whether the promise settled in time, and never rejects', async () => {
    await expect(waitAtMost(later(5, 1), 1_000)).resolves.toBe(true);
    await expect(waitAtMost(Promise.reject(new Error('no')), 1_000)).resolves.toBe(true);
    const started = Date.now();
    await expect(waitAtMost(new Promise(() => undefined), 30)).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
