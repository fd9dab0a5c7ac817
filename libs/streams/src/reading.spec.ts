import fc from 'fast-check';
import { DEVICE_FIELD, PLAUSIBLE_TEMP_F, TEMP_FIELD, decodeTemp, deviceName } from './reading';

describe('decodeTemp', () => {
  it('uses the seed field names', () => {
    expect(TEMP_FIELD).toBe('temp_f');
    expect(DEVICE_FIELD).toBe('device_id');
  });

  it('reads temp_f', () => {
    expect(decodeTemp(['temp_f', '73'])).toBe(73);
  });

  it('reads temp_f alongside device_id, in either order', () => {
    expect(decodeTemp(['device_id', 'device-1', 'temp_f', '73'])).toBe(73);
    expect(decodeTemp(['temp_f', '73', 'device_id', 'device-2'])).toBe(73);
  });

  it.each([[[] as string[]], [['device_id', 'device-1']], [['temp_f']]])(
    'reports missing_temp for %j',
    (fields) => {
      expect(decodeTemp(fields)).toBe('missing_temp');
    },
  );

  it.each([
    'abc',
    '',
    '1e3',
    ' 5',
    '5 ',
    '+5',
    '0x10',
    '.5',
    '5.',
    'NaN',
    'Infinity',
    '7,5',
    '--5',
  ])('reports not_a_number for %j', (raw) => {
    expect(decodeTemp(['temp_f', raw])).toBe('not_a_number');
  });

  it.each(['99999', '300.5', '301', '-200.01', '-201', '-99999'])(
    'reports out_of_range for %s',
    (raw) => {
      expect(decodeTemp(['temp_f', raw])).toBe('out_of_range');
    },
  );

  it('accepts the bounds of the plausible range', () => {
    expect(PLAUSIBLE_TEMP_F).toEqual({ min: -200, max: 300 });
    expect(decodeTemp(['temp_f', '-200'])).toBe(-200);
    expect(decodeTemp(['temp_f', '300'])).toBe(300);
  });

  it.each([
    [['humidity', '40', 'temp_f', '73']],
    [['temp_f', '73', 'humidity', '40']],
    [['device_id', 'device-1', 'temp_f', '73', 'TEMP_F', '73']],
    [['temp_f', 'abc', 'humidity', '40']],
    [['temp_f', '99999', 'humidity', '40']],
  ])('reports unexpected_field for %j', (fields) => {
    expect(decodeTemp(fields)).toBe('unexpected_field');
  });

  it.each([[['device_id', 'device-1', 'temp', '73']], [['TEMP_F', '73']], [['humidity', '40']]])(
    'reports missing_temp (before unexpected_field) for %j',
    (fields) => {
      expect(decodeTemp(fields)).toBe('missing_temp');
    },
  );

  it.each([
    ['-12', -12],
    ['72.5', 72.5],
    ['-0.25', -0.25],
    ['0', 0],
    ['007', 7],
  ])('accepts %s as %d', (raw, value) => {
    expect(decodeTemp(['temp_f', raw])).toBe(value);
  });

  it('round-trips every integer and one-decimal value in range', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: PLAUSIBLE_TEMP_F.min * 10, max: PLAUSIBLE_TEMP_F.max * 10 }),
        fc.boolean(),
        (tenths, withDevice) => {
          const raw = tenths % 10 === 0 ? String(tenths / 10) : (tenths / 10).toFixed(1);
          const fields = withDevice ? ['device_id', 'device-3', 'temp_f', raw] : ['temp_f', raw];
          expect(decodeTemp(fields)).toBe(Number(raw));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never throws and returns either a number in range or a reason', () => {
    const reasons = ['missing_temp', 'not_a_number', 'out_of_range', 'unexpected_field'];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom('temp_f', 'device_id'), fc.string({ maxLength: 6 })), {
          maxLength: 6,
        }),
        (fields) => {
          const result = decodeTemp(fields);
          if (typeof result === 'number') {
            expect(result).toBeGreaterThanOrEqual(PLAUSIBLE_TEMP_F.min);
            expect(result).toBeLessThanOrEqual(PLAUSIBLE_TEMP_F.max);
          } else {
            expect(reasons).toContain(result);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('deviceName', () => {
  it('numbers devices from 1', () => {
    expect(deviceName(0)).toBe('device-1');
    expect(deviceName(1)).toBe('device-2');
    expect(deviceName(9)).toBe('device-10');
  });
});

describe('decodeTemp on raw bytes', () => {
  const bytes = (fields: string[]) => fields.map((field) => Buffer.from(field, 'latin1'));

  it('reads the same as on text, for any fields', () => {
    const value = fc.oneof(
      fc.integer({ min: -1_000, max: 1_000 }).map(String),
      fc.double({ noNaN: true, min: -500, max: 500 }).map(String),
      fc.constantFrom('', '-', '007', '1e3', ' 5', 'abc', '12.', '-0', '999999999999999999'),
      fc.string({ maxLength: 6 }),
    );
    const name = fc.constantFrom(TEMP_FIELD, DEVICE_FIELD, 'humidity', 'temp_F');
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 3 }), (pairs) => {
        const fields = pairs.flat();
        expect(decodeTemp(bytes(fields))).toEqual(decodeTemp(fields));
      }),
      { numRuns: 500 },
    );
  });

  it('reads plain integers straight from the bytes', () => {
    expect(decodeTemp(bytes(['temp_f', '73']))).toBe(73);
    expect(decodeTemp(bytes(['temp_f', '-12', 'device_id', 'device-2']))).toBe(-12);
    expect(decodeTemp(bytes(['temp_f', '71.5']))).toBe(71.5);
    expect(decodeTemp(bytes(['temp_f', 'warm']))).toBe('not_a_number');
  });
});
