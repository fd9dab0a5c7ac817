/** How readings are laid out in a partition entry. */

export const TEMP_FIELD = 'temp_f';
export const DEVICE_FIELD = 'device_id';

/** Device names as written to `device_id` (only when a run has more than one device). */
export function deviceName(index: number): string {
  return `device-${index + 1}`;
}

/**
 * A reading's entry ID: its Unix time in milliseconds, with the device index as sequence number so
 * that the readings of one instant from several devices stay distinct and in a fixed order. Deriving
 * the ID from the data makes a repeated write fail instead of duplicating.
 */
export function readingId(ms: number, deviceIndex: number): string {
  return `${ms}-${deviceIndex}`;
}
