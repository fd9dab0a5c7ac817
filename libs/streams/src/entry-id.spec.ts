import fc from 'fast-check';
import { ZERO_ID, compareEntryIds, entryIdMs, isEntryId } from './entry-id';

const U64_MAX = 2n ** 64n - 1n;
/** Small values collide often (equal ms, equal seq); large ones exceed Number's precision. */
const part = fc.oneof(
  fc.bigInt({ min: 0n, max: 5n }),
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }),
);
const idParts = fc.tuple(part, part);
const toId = ([ms, seq]: [bigint, bigint]) => `${ms}-${seq}`;

function bigIntOrder([am, as]: [bigint, bigint], [bm, bs]: [bigint, bigint]): number {
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

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

describe('compareEntryIds', () => {
  it.each([
    ['0-0', '0-0', 0],
    ['9-0', '10-0', -1],
    ['10-0', '9-0', 1],
    ['1-9', '1-10', -1],
    ['1-10', '1-9', 1],
    ['2-0', '1-999', 1],
    ['9007199254740993-0', '9007199254740992-0', 1],
    ['18446744073709551615-0', '18446744073709551614-5', 1],
    ['5-18446744073709551615', '5-18446744073709551614', 1],
  ])('compares %s with %s as %d', (a, b, expected) => {
    expect(compareEntryIds(a, b)).toBe(expected);
  });

  it('agrees with BigInt ordering of ms, then seq', () => {
    fc.assert(
      fc.property(idParts, idParts, (a, b) => {
        expect(compareEntryIds(toId(a), toId(b))).toBe(bigIntOrder(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it('is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(idParts, idParts, (a, b) => {
        const [x, y] = [toId(a), toId(b)];
        expect(compareEntryIds(x, x)).toBe(0);
        expect(compareEntryIds(x, y)).toBe(-compareEntryIds(y, x) || 0);
      }),
      { numRuns: 200 },
    );
  });

  it('sorts IDs as BigInt (ms, seq) pairs do', () => {
    fc.assert(
      fc.property(fc.array(idParts, { maxLength: 30 }), (parts) => {
        const sorted = parts.map(toId).sort(compareEntryIds);
        const expected = [...parts].sort(bigIntOrder).map(toId);
        expect(sorted).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });
});

describe('isEntryId', () => {
  it.each([
    ZERO_ID,
    '0-0',
    '123-4',
    '1735689600000-0',
    '18446744073709551615-18446744073709551615',
  ])('accepts %s', (id) => {
    expect(isEntryId(id)).toBe(true);
  });

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
