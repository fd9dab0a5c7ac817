import type { ReadingRejectReason } from './reasons';

/** How readings are laid out in a partition entry. */

export const TEMP_FIELD = 'temp_f';
export const DEVICE_FIELD = 'device_id';

/** Device names as written to `device_id` (only when a run has more than one device). */
export function deviceName(index: number): string {
  return `device-${index + 1}`;
}

/** Readings outside this range are rejected rather than allowed to skew an average. */
export const PLAUSIBLE_TEMP_F = { min: -200, max: 300 } as const;

const NUMBER = /^-?\d+(\.\d+)?$/;

/** Why an entry's fields are unusable (the entry-level part of READING_REJECT_REASONS). */
export type RejectReason = Extract<
  ReadingRejectReason,
  'missing_temp' | 'not_a_number' | 'out_of_range' | 'unexpected_field'
>;

/** A field as read from Redis: text, or the raw bytes (decoding every field to text is costly). */
export type Field = string | Uint8Array;

const TEMP_BYTES = new TextEncoder().encode(TEMP_FIELD);
const DEVICE_BYTES = new TextEncoder().encode(DEVICE_FIELD);
const latin1 = new TextDecoder('latin1');
const [MINUS, ZERO, NINE] = [45, 48, 57];

function named(field: Field | undefined, name: string, bytes: Uint8Array): boolean {
  if (typeof field === 'string') return field === name;
  if (!field || field.length !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (field[i] !== bytes[i]) return false;
  return true;
}

/** A decimal number (`-?digits(.digits)?`), or null. Plain integers are read straight from bytes. */
function decimal(field: Field): number | null {
  if (typeof field !== 'string') {
    let value = 0;
    const negative = field[0] === MINUS;
    let i = negative ? 1 : 0;
    if (i < field.length && field.length <= 15) {
      for (; i < field.length && field[i] >= ZERO && field[i] <= NINE; i++) {
        value = value * 10 + field[i] - ZERO;
      }
      if (i === field.length) return negative ? -value : value;
    }
    return decimal(latin1.decode(field));
  }
  return NUMBER.test(field) ? Number(field) : null;
}

/**
 * Reads `temp_f` out of an entry's flat field list, or names why the entry is unusable. Returns a
 * number or a reason (no object per entry: this runs for every reading).
 */
export function decodeTemp(fields: readonly Field[]): number | RejectReason {
  let temp: Field | undefined;
  let unexpected = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (named(name, TEMP_FIELD, TEMP_BYTES)) temp = fields[i + 1];
    else if (!named(name, DEVICE_FIELD, DEVICE_BYTES)) unexpected = true;
  }
  if (temp === undefined) return 'missing_temp';
  if (unexpected) return 'unexpected_field';
  const value = decimal(temp);
  if (value === null) return 'not_a_number';
  return value < PLAUSIBLE_TEMP_F.min || value > PLAUSIBLE_TEMP_F.max ? 'out_of_range' : value;
}
