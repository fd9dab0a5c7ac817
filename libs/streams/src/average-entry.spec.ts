import fc from 'fast-check';
import { hourTotals } from '@temps/testing';
import {
  averageEntryId,
  averageFields,
  averageProblem,
  decodeAverage,
  describeAverage,
  type AverageMessage,
} from './average-entry';
import type { HourlyAverage } from './hourly-window';

const H2025 = Date.UTC(2025, 0, 1);

const flat = (record: Record<string, string>): string[] => Object.entries(record).flat();

/** A consistent hourly average: hour-aligned start, count >= 1, min <= every reading <= max. */
const averageArb: fc.Arbitrary<HourlyAverage> = hourTotals(5000);

describe('averageEntryId', () => {
  it('is <hourStartMs>-0', () => {
    expect(averageEntryId({ hourStartMs: H2025, total: 23, count: 1, min: 23, max: 23 })).toBe(
      '1735689600000-0',
    );
  });

  it('is <hourStartMs>-0 for any hour', () => {
    fc.assert(
      fc.property(averageArb, (avg) => {
        expect(averageEntryId(avg)).toBe(`${avg.hourStartMs}-0`);
      }),
      { numRuns: 100 },
    );
  });
});

describe('averageFields', () => {
  it('lays out the seed fields plus mean, min and max', () => {
    const avg = { hourStartMs: H2025, total: 23 * 3600, count: 3600, min: 10, max: 40 };
    expect(averageFields(avg)).toEqual({
      hour: '0',
      date: '2025/01/01',
      average_temp_f: '23',
      num_observations: '3600',
      mean_temp_f: '23.0000',
      min_temp_f: '10',
      max_temp_f: '40',
    });
  });

  it('writes the UTC hour without padding and the date with padding', () => {
    const at = (iso: string) =>
      averageFields({ hourStartMs: Date.parse(iso), total: 1, count: 1, min: 1, max: 1 });
    expect(at('2025-01-01T23:00:00.000Z')).toMatchObject({ hour: '23', date: '2025/01/01' });
    expect(at('2025-03-09T07:00:00.000Z')).toMatchObject({ hour: '7', date: '2025/03/09' });
    expect(at('2024-12-31T12:00:00.000Z')).toMatchObject({ hour: '12', date: '2024/12/31' });
    expect(at('2024-02-29T00:00:00.000Z')).toMatchObject({ hour: '0', date: '2024/02/29' });
  });

  it('keeps the integer part of the mean and the exact mean to 4 decimals', () => {
    const fields = averageFields({ hourStartMs: H2025, total: 7, count: 2, min: 3, max: 4 });
    expect(fields.average_temp_f).toBe('3');
    expect(fields.mean_temp_f).toBe('3.5000');
    const third = averageFields({ hourStartMs: H2025, total: 200, count: 3, min: 66, max: 67 });
    expect(third.average_temp_f).toBe('66');
    expect(third.mean_temp_f).toBe('66.6667');
  });

  it('keeps the integer part of a negative mean (truncation, as in the seed)', () => {
    const fields = averageFields({ hourStartMs: H2025, total: -7, count: 2, min: -4, max: -3 });
    expect(fields.average_temp_f).toBe('-3');
    expect(fields.mean_temp_f).toBe('-3.5000');
  });

  it('matches the hour, date and mean for any consistent average', () => {
    fc.assert(
      fc.property(averageArb, (avg) => {
        const fields = averageFields(avg);
        const date = new Date(avg.hourStartMs);
        const mean = avg.total / avg.count;
        expect(fields.hour).toBe(String(date.getUTCHours()));
        expect(Number(fields.hour)).toBeGreaterThanOrEqual(0);
        expect(Number(fields.hour)).toBeLessThanOrEqual(23);
        expect(fields.date).toBe(date.toISOString().slice(0, 10).replaceAll('-', '/'));
        expect(fields.average_temp_f).toBe(String(Math.trunc(mean)));
        expect(fields.num_observations).toBe(String(avg.count));
        expect(fields.mean_temp_f).toMatch(/^-?\d+\.\d{4}$/);
        expect(Math.abs(Number(fields.mean_temp_f) - mean)).toBeLessThanOrEqual(0.00005 + 1e-9);
        expect(fields.min_temp_f).toBe(String(avg.min));
        expect(fields.max_temp_f).toBe(String(avg.max));
      }),
      { numRuns: 200 },
    );
  });
});

describe('decodeAverage', () => {
  const fields = {
    ...averageFields({ hourStartMs: H2025, total: 23 * 3600, count: 3600, min: 10, max: 40 }),
    seq: '1',
  };

  it('reads an averages entry', () => {
    expect(decodeAverage(flat(fields))).toEqual({
      date: '2025/01/01',
      hour: '0',
      averageTempF: '23',
      observations: '3600',
      seq: 1,
      exact: { mean: '23.0000', min: '10', max: '40' },
      partial: null,
    });
  });

  it('round-trips averageFields plus seq, whatever the field order', () => {
    fc.assert(
      fc.property(
        averageArb,
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.boolean(),
        (avg, seq, reverse) => {
          const written = averageFields(avg);
          const entries = Object.entries({ ...written, seq: String(seq) });
          if (reverse) entries.reverse();
          expect(decodeAverage(entries.flat())).toEqual<AverageMessage>({
            date: written.date,
            hour: written.hour,
            averageTempF: written.average_temp_f,
            observations: written.num_observations,
            seq,
            exact: { mean: written.mean_temp_f, min: written.min_temp_f, max: written.max_temp_f },
            partial: avg.partial ?? null,
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each(['date', 'hour', 'average_temp_f', 'num_observations'])(
    'returns null when %s is missing',
    (name) => {
      const rest = Object.fromEntries(Object.entries(fields).filter(([key]) => key !== name));
      expect(decodeAverage(flat(rest))).toBeNull();
    },
  );

  it('reads an average in the reference format: no seq, no mean, min or max', () => {
    const reference = flat({
      hour: '7',
      date: '2025/01/03',
      average_temp_f: '51',
      num_observations: '3600',
    });
    expect(decodeAverage(reference)).toEqual<AverageMessage>({
      date: '2025/01/03',
      hour: '7',
      averageTempF: '51',
      observations: '3600',
      seq: null,
      exact: null,
      partial: null,
    });
  });

  it('reads a decimal average_temp_f as written', () => {
    expect(decodeAverage(flat({ ...fields, average_temp_f: '23.5' }))).toMatchObject({
      averageTempF: '23.5',
    });
  });

  it('does not need mean, min or max', () => {
    const seed = Object.fromEntries(
      Object.entries(fields).filter(
        ([key]) => !['mean_temp_f', 'min_temp_f', 'max_temp_f'].includes(key),
      ),
    );
    expect(decodeAverage(flat(seed))).toMatchObject({ seq: 1, exact: null });
  });

  it.each([
    ['mean_temp_f', 'warm'],
    ['min_temp_f', ''],
    ['max_temp_f', '1e3'],
  ])('leaves the exact figures out when %s is %j, keeping the average', (name, value) => {
    expect(decodeAverage(flat({ ...fields, [name]: value }))).toMatchObject({
      averageTempF: '23',
      exact: null,
    });
  });

  it.each([
    ['date', ''],
    ['date', '2025-01-01'],
    ['date', '25/01/01'],
    ['date', '2025/1/1'],
    ['hour', ''],
    ['hour', '-1'],
    ['hour', '007'],
    ['hour', 'x'],
    ['hour', '1.5'],
    ['average_temp_f', ''],
    ['average_temp_f', '23.'],
    ['average_temp_f', 'abc'],
    ['average_temp_f', '23F'],
    ['num_observations', ''],
    ['num_observations', '-1'],
    ['num_observations', '3.5'],
    ['seq', ''],
    ['seq', 'x'],
    ['seq', '-1'],
    ['seq', '1.5'],
  ])('returns null when %s is %j', (name, value) => {
    expect(decodeAverage(flat({ ...fields, [name]: value }))).toBeNull();
  });

  it('accepts a negative integer average', () => {
    expect(decodeAverage(flat({ ...fields, average_temp_f: '-4' }))).toMatchObject({
      averageTempF: '-4',
    });
  });

  it('ignores a trailing field name without a value', () => {
    expect(decodeAverage([...flat(fields), 'extra'])).toEqual(decodeAverage(flat(fields)));
  });

  it('returns null for an empty entry', () => {
    expect(decodeAverage([])).toBeNull();
  });
});

describe('describeAverage', () => {
  it('uses the seed wording', () => {
    const message = decodeAverage(
      flat({
        ...averageFields({ hourStartMs: H2025, total: 23 * 3600, count: 3600, min: 10, max: 40 }),
        seq: '1',
      }),
    );
    expect(message).not.toBeNull();
    expect(describeAverage(message!)).toBe(
      'Average temperature for 2025/01/01 at 0 was 23F (3600 observations).',
    );
  });

  it('describes an afternoon hour with the integer part of its mean', () => {
    const message = decodeAverage(
      flat({
        ...averageFields({
          hourStartMs: Date.parse('2025-06-15T14:00:00.000Z'),
          total: 7,
          count: 2,
          min: 3,
          max: 4,
        }),
        seq: '42',
      }),
    );
    expect(describeAverage(message!)).toBe(
      'Average temperature for 2025/06/15 at 14 was 3F (2 observations).',
    );
  });
});

describe('averageProblem: what neither the reader prints nor the warehouse stores', () => {
  const whole = {
    hour: '5',
    date: '2025/01/02',
    average_temp_f: '-3',
    num_observations: '3600',
    mean_temp_f: '-3.1416',
    min_temp_f: '-20',
    max_temp_f: '12',
    seq: '30',
  };
  const problem = (change: Record<string, string>) =>
    averageProblem(decodeAverage(flat({ ...whole, ...change }))!);

  it.each([
    [{}],
    [{ date: '2024/02/29' }],
    [{ date: '0001/01/01' }],
    [{ date: '9999/12/31', hour: '23' }],
    [{ hour: '00' }],
    [{ average_temp_f: '2147483647' }],
    [{ average_temp_f: '-2147483648' }],
    [{ average_temp_f: '-00002147483648.5' }],
    [{ num_observations: '2147483647' }],
    [{ num_observations: '0001' }],
    [{ mean_temp_f: `${'9'.repeat(131_072)}.${'1'.repeat(16_383)}` }],
    [{ seq: String(Number.MAX_SAFE_INTEGER) }],
  ])('passes a whole average (%#)', (change) => {
    expect(problem(change)).toBeNull();
  });

  it.each([
    [{ date: '2025/02/30' }, 'date 2025/02/30 is not a day of the calendar'],
    [{ date: '2025/02/29' }, 'date 2025/02/29 is not a day of the calendar'],
    [{ date: '2025/13/01' }, 'date 2025/13/01 is not a day of the calendar'],
    [{ date: '0000/01/01' }, 'date 0000/01/01 is not a day of the calendar'],
    [{ hour: '24' }, 'hour 24 is outside 0…23'],
    [{ hour: '99' }, 'hour 99 is outside 0…23'],
    [
      { average_temp_f: '3000000000' },
      'average_temp_f 3000000000 is outside -2147483648…2147483647',
    ],
    [
      { average_temp_f: '2147483648' },
      'average_temp_f 2147483648 is outside -2147483648…2147483647',
    ],
    [
      { average_temp_f: '-2147483649.5' },
      'average_temp_f -2147483649.5 is outside -2147483648…2147483647',
    ],
    [
      { average_temp_f: `1.${'0'.repeat(16_384)}` },
      "average_temp_f 1.00000000000000… (16386 characters) has more digits than PostgreSQL's numeric holds",
    ],
    [{ num_observations: '0' }, 'num_observations 0 is outside 1…2147483647'],
    [{ num_observations: '2147483648' }, 'num_observations 2147483648 is outside 1…2147483647'],
    [
      { num_observations: '9'.repeat(400) },
      'num_observations 9999999999999999… (400 characters) is outside 1…2147483647',
    ],
    [
      { mean_temp_f: '9'.repeat(131_073) },
      "mean_temp_f 9999999999999999… (131073 characters) has more digits than PostgreSQL's numeric holds",
    ],
    [
      { min_temp_f: `0.${'5'.repeat(16_384)}` },
      "min_temp_f 0.55555555555555… (16386 characters) has more digits than PostgreSQL's numeric holds",
    ],
    [{ seq: '9007199254740993' }, 'seq is beyond 9007199254740991'],
  ])('names what cannot be: %#', (change, reason) => {
    expect(problem(change)).toBe(reason);
  });
});

describe('partial hours', () => {
  const average = {
    hourStartMs: H2025 + 8 * 3_600_000,
    total: 1200 * 12.5,
    count: 1200,
    min: 1,
    max: 30,
  };

  it('writes the reason as one more field; a complete hour keeps exactly its seven', () => {
    const complete = averageFields(average);
    expect(Object.keys(complete)).toEqual([
      'hour',
      'date',
      'average_temp_f',
      'num_observations',
      'mean_temp_f',
      'min_temp_f',
      'max_temp_f',
    ]);
    expect(averageFields({ ...average, partial: 'evicted' })).toEqual({
      ...complete,
      partial: 'evicted',
    });
  });

  it('reads the mark back and says so at the end of the seed line', () => {
    const written = { ...averageFields({ ...average, partial: 'expired' }), seq: '3' };
    const message = decodeAverage(flat(written))!;
    expect(message.partial).toBe('expired');
    expect(describeAverage(message)).toBe(
      'Average temperature for 2025/01/01 at 8 was 12F (1200 observations). — partial: readings lost (partition expired before it was read)',
    );
    const evicted = decodeAverage(flat({ ...written, partial: 'evicted' }))!;
    expect(describeAverage(evicted)).toMatch(
      /— partial: readings lost \(partition evicted or deleted before it was read\)$/,
    );
    // Another writer's reason is shown as written; a complete hour has the seed line alone.
    const other = decodeAverage(flat({ ...written, partial: 'sensor outage' }))!;
    expect(describeAverage(other)).toMatch(/— partial: readings lost \(sensor outage\)$/);
    const complete = decodeAverage(flat({ ...averageFields(average), seq: '3' }))!;
    expect(complete.partial).toBeNull();
    expect(describeAverage(complete)).toBe(
      'Average temperature for 2025/01/01 at 8 was 12F (1200 observations).',
    );
  });
});
