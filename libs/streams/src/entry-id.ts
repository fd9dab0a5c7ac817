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
