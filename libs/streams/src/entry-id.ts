/** Stream entry IDs are `<ms>-<seq>`; these helpers read and compare them without losing precision. */

const ENTRY_ID = /^(\d+)-(\d+)$/;

export const ZERO_ID = '0-0';

export function isEntryId(id: string): boolean {
  return ENTRY_ID.test(id);
}

/** The millisecond part of an entry ID. */
export function entryIdMs(id: string): number {
  const match = ENTRY_ID.exec(id);
  const ms = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(ms)) throw new Error(`Not a stream entry ID: ${id}`);
  return ms;
}

/** Orders two entry IDs as Redis does. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}
