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

export type RejectReason = 'missing_temp' | 'not_a_number' | 'out_of_range' | 'unexpected_field';

/**
 * Reads `temp_f` out of an entry's flat field list, or names why the entry is unusable. Returns a
 * number or a reason (no object per entry: this runs for every reading).
 */
export function decodeTemp(fields: readonly string[]): number | RejectReason {
  let temp: string | undefined;
  let unexpected = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name === TEMP_FIELD) temp = fields[i + 1];
    else if (name !== DEVICE_FIELD) unexpected = true;
  }
  if (temp === undefined) return 'missing_temp';
  if (unexpected) return 'unexpected_field';
  if (!NUMBER.test(temp)) return 'not_a_number';
  const value = Number(temp);
  return value < PLAUSIBLE_TEMP_F.min || value > PLAUSIBLE_TEMP_F.max ? 'out_of_range' : value;
}
