import fc from 'fast-check';
import { DAY_MS, startOfDay, utcDay } from './time';

const LAST_MS = Date.UTC(9999, 11, 31) + DAY_MS - 1;
// Date.UTC maps years 0-99 to 1900-1999; toISOString of year 0 is the first four-digit year.
const ISO_YEAR_0_MS = Date.parse('0000-01-01T00:00:00Z');

describe('utcDay', () => {
  it('is the ISO calendar day of any instant from 0000-01-01 to 9999-12-31', () => {
    fc.assert(
      fc.property(fc.integer({ min: ISO_YEAR_0_MS, max: LAST_MS }), (ms) => {
        const iso = new Date(ms).toISOString().slice(0, 10);
        expect(utcDay(ms, '-')).toBe(iso);
        expect(utcDay(ms, '')).toBe(iso.replaceAll('-', ''));
        expect(utcDay(ms, '/')).toBe(iso.replaceAll('-', '/'));
      }),
    );
  });

  it('is the same for every instant of a day, and pads small years to four digits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: LAST_MS }), (ms) => {
        expect(utcDay(startOfDay(ms), '')).toBe(utcDay(ms, ''));
        expect(utcDay(startOfDay(ms) + DAY_MS - 1, '')).toBe(utcDay(ms, ''));
      }),
    );
    expect(utcDay(0, '')).toBe('19700101');
    const year42 = new Date(0);
    year42.setUTCFullYear(42, 0, 2);
    expect(utcDay(year42.getTime(), '/')).toBe('0042/01/02');
  });
});
