import fc from 'fast-check';

const HOUR_MS = 3_600_000;

/** An hour's totals as the hourly window keeps them. */
export interface HourTotals {
  hourStartMs: number;
  total: number;
  count: number;
  min: number;
  max: number;
}

/**
 * Consistent totals of one hour (for property tests): hour-aligned start between 2000 and 2400,
 * 1..maxCount integer readings in -200..300, min <= every reading <= max.
 */
export function hourTotals(maxCount: number): fc.Arbitrary<HourTotals> {
  return fc
    .record({
      hour: fc.integer({
        min: Date.UTC(2000, 0, 1) / HOUR_MS,
        max: Date.UTC(2400, 0, 1) / HOUR_MS,
      }),
      count: fc.integer({ min: 1, max: maxCount }),
      a: fc.integer({ min: -200, max: 300 }),
      b: fc.integer({ min: -200, max: 300 }),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ hour, count, a, b, fraction }) => {
      const min = Math.min(a, b);
      const max = Math.max(a, b);
      const total = min * count + Math.round((max - min) * count * fraction);
      return { hourStartMs: hour * HOUR_MS, total, count, min, max };
    });
}

/** A stream entry as XRANGE returns it: its ID and its flat field list. */
export type RawEntry = [id: string, fields: string[]];

const temperatureText = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 100 }).map(String), weight: 12 },
  {
    // Decimals whose sums round differently in another order: the fold must keep the order.
    arbitrary: fc
      .tuple(fc.integer({ min: -150, max: 250 }), fc.integer({ min: 0, max: 999_999 }))
      .map(([whole, fraction]) => `${whole}.${String(fraction).padStart(6, '0')}`),
    weight: 4,
  },
  { arbitrary: fc.constantFrom('-0', '007', '-200', '300', '0.1', '0.2', '0.3'), weight: 1 },
  { arbitrary: fc.constantFrom('x', '', '1e3', ' 5', '0x1A', 'inf', '12.', '.5'), weight: 1 },
  { arbitrary: fc.constantFrom('-201', '300.5', '99999999999999999999'), weight: 1 },
);

const entryFields: fc.Arbitrary<string[]> = fc.oneof(
  { arbitrary: temperatureText.map((t) => ['temp_f', t]), weight: 12 },
  {
    arbitrary: fc
      .tuple(temperatureText, fc.nat(99))
      .map(([t, d]) => ['temp_f', t, 'device_id', String(d)]),
    weight: 3,
  },
  {
    arbitrary: fc
      .tuple(temperatureText, fc.nat(99))
      .map(([t, d]) => ['device_id', String(d), 'temp_f', t]),
    weight: 1,
  },
  { arbitrary: fc.constant<string[]>(['device_id', '3']), weight: 1 },
  { arbitrary: temperatureText.map((t) => ['temp_f', t, 'colour', 'red']), weight: 1 },
  { arbitrary: fc.constant<string[]>(['humidity', '40']), weight: 1 },
);

/**
 * The entries of one day partition in ID order (for property tests of the fold): readings with
 * gaps from none to two hours, several at one millisecond, decimals, every layout and kind of bad
 * field, and now and then IDs before or after the day (`wrong_partition`).
 */
export function partitionEntries(dayStartMs: number, maxLength = 400): fc.Arbitrary<RawEntry[]> {
  const gap = fc.oneof(
    { arbitrary: fc.constant(0), weight: 2 },
    { arbitrary: fc.integer({ min: 1, max: 2_000 }), weight: 6 },
    { arbitrary: fc.integer({ min: 0, max: 20 * 60_000 }), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: 2 * HOUR_MS }), weight: 1 },
  );
  const outside = fc.array(fc.tuple(fc.integer({ min: 1, max: 5 * HOUR_MS }), entryFields), {
    maxLength: 2,
  });
  return fc
    .record({
      first: fc.integer({ min: 0, max: 3 * HOUR_MS }),
      inside: fc.array(fc.tuple(gap, entryFields), { maxLength, size: 'medium' }),
      before: outside,
      after: outside,
    })
    .map(({ first, inside, before, after }) => {
      const entries: RawEntry[] = [];
      let ms = -1;
      let seq = 0;
      const push = (at: number, fields: string[]) => {
        if (at === ms) seq++;
        else [ms, seq] = [at, 0];
        entries.push([`${ms}-${seq}`, fields]);
      };
      const early = before.map(([back, fields]) => [dayStartMs - back, fields] as const);
      early.sort((a, b) => a[0] - b[0]).forEach(([at, fields]) => push(at, fields));
      let at = dayStartMs + first;
      for (const [step, fields] of inside) {
        at += step;
        if (at >= dayStartMs + 24 * HOUR_MS) break;
        push(at, fields);
      }
      const late = after.map(
        ([ahead, fields]) => [dayStartMs + 24 * HOUR_MS + ahead, fields] as const,
      );
      late.sort((a, b) => a[0] - b[0]).forEach(([at2, fields]) => push(at2, fields));
      return entries;
    });
}
