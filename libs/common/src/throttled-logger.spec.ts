import fc from 'fast-check';
import { ThrottledLogger, type LineSink } from './throttled-logger';

function recorder() {
  const lines: string[] = [];
  const sink: LineSink = {
    log: (l) => lines.push(`log ${l}`),
    warn: (l) => lines.push(`warn ${l}`),
    error: (l) => lines.push(`error ${l}`),
  };
  return { lines, sink };
}

describe('ThrottledLogger', () => {
  it('writes a key at most once per period, whatever the times of the attempts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 5_000 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 2_000 }),
        (gaps, everyMs) => {
          let clock = 0;
          const { lines, sink } = recorder();
          const logger = new ThrottledLogger(sink, everyMs, () => clock);
          const writtenAt: number[] = [];
          for (const gap of gaps) {
            clock += gap;
            if (logger.error(`attempt at ${clock}`, 'retry')) writtenAt.push(clock);
          }
          expect(lines).toHaveLength(writtenAt.length);
          // The first attempt is always written; consecutive writes are a period apart at least,
          // and an attempt is dropped only within a period of the last write.
          if (gaps.length) expect(writtenAt[0]).toBe(gaps[0]);
          writtenAt
            .slice(1)
            .forEach((at, i) => expect(at - writtenAt[i]).toBeGreaterThanOrEqual(everyMs));
        },
      ),
    );
  });

  it('writes a different line at once, the same line again only after the period, and everything after reset()', () => {
    let clock = 0;
    const { lines, sink } = recorder();
    const logger = new ThrottledLogger(sink, 30_000, () => clock);
    expect(logger.warn('Redis is away')).toBe(true);
    expect(logger.warn('Redis is away')).toBe(false);
    expect(logger.log('warehouse is down')).toBe(true);
    clock = 29_999;
    expect(logger.warn('Redis is away')).toBe(false);
    clock = 30_000;
    expect(logger.warn('Redis is away')).toBe(true);
    logger.reset();
    expect(logger.warn('Redis is away')).toBe(true);
    expect(lines).toEqual([
      'warn Redis is away',
      'log warehouse is down',
      'warn Redis is away',
      'warn Redis is away',
    ]);
  });
});
