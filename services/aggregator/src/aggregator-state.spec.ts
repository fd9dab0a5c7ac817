import fc from 'fast-check';
import { CorruptStateError } from '@temps/redis';
import { hourTotals } from '@temps/testing';
import {
  AGGREGATOR_STATE_KEY,
  AggregatorStateHash,
  DAY_MS,
  EMPTY_WINDOW,
  HOUR_MS,
  LEFT_PARTITIONS_KEPT,
  foldEntries,
  initialState,
  leaveMark,
  partitionKeyFor,
  type AggregatorState,
  type WindowState,
} from '@temps/streams';

const { parse: parseState, serialize: serializeState } = AggregatorStateHash;

const H2025 = Date.UTC(2025, 0, 1);

const streamKeyArb = fc
  .integer({ min: Date.UTC(2000, 0, 1) / DAY_MS, max: Date.UTC(2400, 0, 1) / DAY_MS })
  .map((day) => partitionKeyFor(day * DAY_MS));

const lastIdArb = fc.oneof(
  fc.constant('0'),
  fc
    .tuple(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 1000 }))
    .map(([ms, seq]) => `${ms}-${seq}`),
);

const openWindowArb: fc.Arbitrary<WindowState> = hourTotals(100_000);

const stateArb: fc.Arbitrary<AggregatorState> = fc.record(
  {
    streamKey: streamKeyArb,
    lastId: lastIdArb,
    window: fc.oneof(fc.constant(EMPTY_WINDOW), openWindowArb),
    publishedUntilMs: fc.nat({ max: Date.UTC(2400, 0, 1) / HOUR_MS }).map((h) => h * HOUR_MS),
    // The newest early entry counted: kept across a restart so none is counted twice.
    earlyThrough: lastIdArb.filter((id) => id !== '0'),
  },
  { requiredKeys: ['streamKey', 'lastId', 'window', 'publishedUntilMs'] },
);

const validHash = (): Record<string, string> =>
  serializeState({
    streamKey: 'temps:20250101',
    lastId: '1735689600000-0',
    window: { hourStartMs: H2025, total: 150, count: 3, min: 40, max: 60 },
    publishedUntilMs: H2025,
  });

function corruptionOf(hash: Record<string, string>): CorruptStateError {
  try {
    parseState(hash);
  } catch (error) {
    if (error instanceof CorruptStateError) return error;
    throw error;
  }
  throw new Error(`parseState accepted ${JSON.stringify(hash)}`);
}

function without(hash: Record<string, string>, field: string): Record<string, string> {
  const copy = { ...hash };
  delete copy[field];
  return copy;
}

describe('aggregator state', () => {
  it('starts at the beginning of a partition with no open hour', () => {
    expect(initialState('temps:20250101')).toEqual({
      streamKey: 'temps:20250101',
      lastId: '0',
      window: EMPTY_WINDOW,
      publishedUntilMs: 0,
    });
  });

  it('serializes to the seed field names plus the open hour', () => {
    expect(validHash()).toEqual({
      current_stream_key: 'temps:20250101',
      last_message_id: '1735689600000-0',
      current_hourly_total: '150',
      current_hourly_count: '3',
      current_hour: String(H2025),
      current_hourly_min: '40',
      current_hourly_max: '60',
      published_until_ms: String(H2025),
    });
  });

  it('round-trips the initial state', () => {
    const state = initialState('temps:20250101');
    expect(parseState(serializeState(state))).toEqual(state);
  });

  it('round-trips any valid state', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        expect(parseState(serializeState(state))).toEqual(state);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips an open hour marked partial, and refuses an unknown reason', () => {
    const window = { hourStartMs: H2025, total: 150, count: 3, min: 40, max: 60 };
    const state = {
      streamKey: 'temps:20250101',
      lastId: `${H2025}-0`,
      window: { ...window, partial: 'evicted' as const },
      publishedUntilMs: 0,
    };
    expect(serializeState(state)).toMatchObject({ current_hourly_partial: 'evicted' });
    expect(parseState(serializeState(state))).toEqual(state);
    // Only an open hour carries the mark.
    expect(serializeState({ ...state, window: EMPTY_WINDOW })).not.toHaveProperty(
      'current_hourly_partial',
    );
    expect(
      corruptionOf({ ...serializeState(state), current_hourly_partial: 'lost' }).message,
    ).toContain('current_hourly_partial is not a partial-hour reason ("lost")');
    // An hour not open yet whose beginning was lost.
    const pending = {
      ...state,
      partialHour: { hourStartMs: H2025 + 3_600_000, reason: 'expired' as const },
    };
    expect(serializeState(pending)).toMatchObject({ partial_hour: `${H2025 + 3_600_000} expired` });
    expect(parseState(serializeState(pending))).toEqual(pending);
    expect(
      corruptionOf({ ...serializeState(state), partial_hour: '12 expired' }).message,
    ).toContain('partial_hour is not');
  });

  it('round-trips the states foldEntries produces from integer readings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -200, max: 300 }), { minLength: 1, maxLength: 200 }),
        (temps) => {
          const { state: window } = foldEntries(
            EMPTY_WINDOW,
            temps.map((temp, i) => ({ ms: H2025 + i, temp })),
          );
          const state = {
            streamKey: 'temps:20250101',
            lastId: `${H2025}-0`,
            window,
            publishedUntilMs: 0,
          };
          expect(parseState(serializeState(state))).toEqual(state);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('round-trips a decimal open hour', () => {
    const state: AggregatorState = {
      streamKey: 'temps:20250101',
      lastId: '0',
      window: { hourStartMs: H2025, total: 145.5, count: 2, min: 72.5, max: 73 },
      publishedUntilMs: 0,
    };
    expect(parseState(serializeState(state))).toEqual(state);
  });

  // Repeated floating-point addition drifts past min*count or max*count (ten readings of 0.1°F
  // total 0.9999999999999999 < 0.1 * 10): the check must allow for it.
  it('round-trips an open hour of identical decimal readings (floating-point drift)', () => {
    const { state: window } = foldEntries(
      EMPTY_WINDOW,
      Array.from({ length: 10 }, (_, i) => ({ ms: H2025 + i, temp: 0.1 })),
    );
    const state = { streamKey: 'temps:20250101', lastId: '0', window, publishedUntilMs: 0 };
    expect(parseState(serializeState(state))).toEqual(state);
  });

  it('round-trips the partitions left behind, and keeps only the most recent ones', () => {
    const left = leaveMark(undefined, {
      'temps:20250101': `${H2025 + 5_000}-1`,
      'temps:20250102': '0',
    });
    const state: AggregatorState = { ...initialState('temps:20250103'), left };
    expect(serializeState(state)).toMatchObject({
      'left:temps:20250101': `${H2025 + 5_000}-1`,
      'left:temps:20250102': '0',
    });
    expect(parseState(serializeState(state))).toEqual(state);
    const many = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [partitionKeyFor(H2025 + i * DAY_MS), '0']),
    );
    const kept = Object.keys(leaveMark(many, { [partitionKeyFor(H2025 + 40 * DAY_MS)]: '0' }));
    expect(kept).toHaveLength(LEFT_PARTITIONS_KEPT);
    expect(kept.at(-1)).toBe(partitionKeyFor(H2025 + 40 * DAY_MS));
    expect(kept[0]).toBe(partitionKeyFor(H2025 + (41 - LEFT_PARTITIONS_KEPT) * DAY_MS));
  });

  it('ignores a left partition given an empty value (dropped), refuses a malformed one', () => {
    const hash = serializeState(initialState('temps:20250103'));
    expect(parseState({ ...hash, 'left:temps:20250101': '' }).left).toBeUndefined();
    expect(corruptionOf({ ...hash, 'left:temps:20250101': 'x' }).message).toContain(
      'left:temps:20250101 is not an entry ID',
    );
    expect(corruptionOf({ ...hash, 'left:temps:garbage': '0' }).message).toContain(
      'left:temps:garbage does not name a partition',
    );
  });

  it("reads a hash with the exercise's four fields only: nothing published yet", () => {
    const state = parseState({
      current_stream_key: 'temps:20250101',
      last_message_id: '0',
      current_hourly_total: '0',
      current_hourly_count: '0',
    });
    expect(state).toEqual(initialState('temps:20250101'));
  });

  it('ignores the open-hour fields when the count is 0', () => {
    const hash = {
      ...serializeState(initialState('temps:20250101')),
      current_hour: 'garbage',
      current_hourly_min: 'x',
    };
    expect(parseState(hash).window).toEqual(EMPTY_WINDOW);
    expect(parseState(without(without(hash, 'current_hour'), 'current_hourly_max')).window).toEqual(
      EMPTY_WINDOW,
    );
  });

  describe('refuses a corrupted hash with CorruptStateError naming the field', () => {
    const cases: [string, string, (hash: Record<string, string>) => Record<string, string>][] = [
      ['missing current_stream_key', 'current_stream_key', (h) => without(h, 'current_stream_key')],
      [
        'a non-partition current_stream_key',
        'current_stream_key',
        (h) => ({ ...h, current_stream_key: 'temps:garbage' }),
      ],
      [
        'the averages stream as current_stream_key',
        'current_stream_key',
        (h) => ({ ...h, current_stream_key: 'temps:averages' }),
      ],
      [
        'an impossible day as current_stream_key',
        'current_stream_key',
        (h) => ({ ...h, current_stream_key: 'temps:20250230' }),
      ],
      ['missing last_message_id', 'last_message_id', (h) => without(h, 'last_message_id')],
      ['garbage last_message_id', 'last_message_id', (h) => ({ ...h, last_message_id: 'garbage' })],
      ['empty last_message_id', 'last_message_id', (h) => ({ ...h, last_message_id: '' })],
      ['half an entry ID', 'last_message_id', (h) => ({ ...h, last_message_id: '12-' })],
      [
        'missing current_hourly_count',
        'current_hourly_count',
        (h) => without(h, 'current_hourly_count'),
      ],
      [
        'non-integer current_hourly_count',
        'current_hourly_count',
        (h) => ({ ...h, current_hourly_count: '1.5' }),
      ],
      [
        'non-numeric current_hourly_count',
        'current_hourly_count',
        (h) => ({ ...h, current_hourly_count: 'three' }),
      ],
      [
        'negative current_hourly_count',
        'current_hourly_count',
        (h) => ({ ...h, current_hourly_count: '-1' }),
      ],
      [
        'missing current_hourly_total',
        'current_hourly_total',
        (h) => without(h, 'current_hourly_total'),
      ],
      [
        'non-numeric current_hourly_total',
        'current_hourly_total',
        (h) => ({ ...h, current_hourly_total: 'NaN' }),
      ],
      ['missing current_hour when count > 0', 'current_hour', (h) => without(h, 'current_hour')],
      [
        'current_hour off an hour boundary',
        'current_hour',
        (h) => ({ ...h, current_hour: String(H2025 + 1) }),
      ],
      [
        'current_hour in the middle of an hour',
        'current_hour',
        (h) => ({ ...h, current_hour: String(H2025 + 30 * 60_000) }),
      ],
      ['non-integer current_hour', 'current_hour', (h) => ({ ...h, current_hour: '1.5' })],
      ['missing current_hourly_min', 'current_hourly_min', (h) => without(h, 'current_hourly_min')],
      ['missing current_hourly_max', 'current_hourly_max', (h) => without(h, 'current_hourly_max')],
      [
        'total above max * count',
        'current_hourly_total',
        (h) => ({ ...h, current_hourly_total: '181' }),
      ],
      [
        'total below min * count',
        'current_hourly_total',
        (h) => ({ ...h, current_hourly_total: '119' }),
      ],
      [
        'min above max',
        'current_hourly_total',
        (h) => ({ ...h, current_hourly_min: '61', current_hourly_max: '60' }),
      ],
      [
        'a count that does not fit the total',
        'current_hourly_total',
        (h) => ({ ...h, current_hourly_count: '100' }),
      ],
    ];

    it.each(cases)('%s', (_label, field, corrupt) => {
      const error = corruptionOf(corrupt(validHash()));
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('CorruptStateError');
      expect(error.message).toContain(`${AGGREGATOR_STATE_KEY} is corrupted: ${field} `);
      expect(error.message).toContain('temps:20250101');
    });

    it.each(['-3600000', '1', 'soon'])('a published_until_ms of %j', (value) => {
      const error = corruptionOf({ ...validHash(), published_until_ms: value });
      expect(error.message).toContain(`${AGGREGATOR_STATE_KEY} is corrupted: published_until_ms `);
    });

    it('refuses a missing current_stream_key even on an otherwise empty hash', () => {
      expect(corruptionOf({}).message).toContain('current_stream_key');
    });

    it('refuses any total outside [min * count, max * count]', () => {
      fc.assert(
        fc.property(openWindowArb, fc.integer({ min: 1, max: 1000 }), fc.boolean(), (w, by, up) => {
          const window = { ...w, total: up ? w.max * w.count + by : w.min * w.count - by };
          const hash = serializeState({
            streamKey: 'temps:20250101',
            lastId: '0',
            window,
            publishedUntilMs: 0,
          });
          expect(corruptionOf(hash).message).toContain('current_hourly_total');
        }),
        { numRuns: 100 },
      );
    });

    it('refuses any current_hour that is not on an hour boundary', () => {
      fc.assert(
        fc.property(openWindowArb, fc.integer({ min: 1, max: HOUR_MS - 1 }), (w, offset) => {
          const hash = serializeState({
            streamKey: 'temps:20250101',
            lastId: '0',
            window: { ...w, hourStartMs: w.hourStartMs + offset },
            publishedUntilMs: 0,
          });
          expect(corruptionOf(hash).message).toContain('current_hour ');
        }),
        { numRuns: 100 },
      );
    });
  });
});
