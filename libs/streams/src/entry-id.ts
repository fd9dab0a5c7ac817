/** Stream entry IDs are `<ms>-<seq>`. */

const ENTRY_ID = /^(\d+)-(\d+)$/;

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

/** Orders two entry IDs as Redis does: by milliseconds, then by sequence number. */
export function compareEntryIds(a: string, b: string): number {
  // Both parts go up to 2^64 - 1, past Number's precision.
  const [msA, seqA = 0n] = a.split('-').map(BigInt);
  const [msB, seqB = 0n] = b.split('-').map(BigInt);
  const order = msA === msB ? seqA - seqB : msA - msB;
  return order === 0n ? 0 : order < 0n ? -1 : 1;
}
