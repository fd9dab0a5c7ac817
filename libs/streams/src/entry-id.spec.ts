import fc from 'fast-check';
import { compareEntryIds, entryIdMs, isEntryId } from './entry-id';

const U64_MAX = 2n ** 64n - 1n;
/** Small values collide often (equal ms, equal seq); large ones exceed Number's precision. */
const part = fc.oneof(
  fc.bigInt({ min: 0n, max: 5n }),
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }),
);
const idParts = fc.tuple(part, part);
const toId = ([ms, seq]: [bigint, bigint]) => `${ms}-${seq}`;

describe('entryIdMs', () => {
  it.each([
    ['0-0', 0],
    ['1735689600000-0', 1735689600000],
    ['1735689600000-3', 1735689600000],
    [`${Number.MAX_SAFE_INTEGER}-12`, Number.MAX_SAFE_INTEGER],
  ])('reads the ms part of %s', (id, ms) => {
    expect(entryIdMs(id)).toBe(ms);
  });

  it.each(['abc', 'x-1', '1.5-0', '9007199254740992-0', '18446744073709551615-0'])(
    'throws for %s',
    (id) => {
      expect(() => entryIdMs(id)).toThrow(`Not a stream entry ID: ${id}`);
    },
  );

  it('reads back the ms of any safe ID', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.bigInt({ min: 0n, max: U64_MAX }),
        (ms, seq) => {
          expect(entryIdMs(`${ms}-${seq}`)).toBe(ms);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('isEntryId', () => {
  it.each(['0-0', '123-4', '1735689600000-0', '18446744073709551615-18446744073709551615'])(
    'accepts %s',
    (id) => {
      expect(isEntryId(id)).toBe(true);
    },
  );

  it.each([
    '0',
    '123',
    '',
    '-',
    '-1-0',
    '1-',
    '-1',
    '1-a',
    'a-1',
    '*',
    '$',
    ' 1-0',
    '1-0 ',
    '1-0\n',
    '1.5-0',
    '1-2-3',
    '+1-0',
  ])('rejects %j', (id) => {
    expect(isEntryId(id)).toBe(false);
  });

  it('accepts every <ms>-<seq> of non-negative integers', () => {
    fc.assert(
      fc.property(idParts, (parts) => {
        expect(isEntryId(toId(parts))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with a strict digits-dash-digits check on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('0', '1', '9', '-', 'a', ' ', '.'), maxLength: 8 }),
        (id) => {
          const parts = id.split('-');
          const strict = parts.length === 2 && parts.every((p) => /^[0-9]+$/.test(p));
          expect(isEntryId(id)).toBe(strict);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('compareEntryIds', () => {
  it('orders by milliseconds, then by sequence, as Redis does (not as text), up to 2^64 - 1', () => {
    fc.assert(
      fc.property(idParts, idParts, (a, b) => {
        const expected =
          a[0] === b[0] ? Math.sign(Number(a[1] - b[1])) : Math.sign(Number(a[0] - b[0]));
        expect(compareEntryIds(toId(a), toId(b))).toBe(expected);
      }),
    );
    expect(compareEntryIds('9-0', '10-0')).toBe(-1);
    expect(compareEntryIds('5-10', '5-9')).toBe(1);
    expect(compareEntryIds('0', '0-0')).toBe(0);
  });
});
