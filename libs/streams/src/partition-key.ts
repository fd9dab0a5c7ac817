import { PARTITION_PREFIX } from './keys';
import { DAY_MS, startOfDay, utcDay } from './time';

const PARTITION_KEY = /^temps:(\d{4})(\d{2})(\d{2})$/;

/**
 * The days a partition can cover: from 1970-01-01 (stream IDs count milliseconds from the Unix
 * epoch; nothing lies before it) to 9999-12-31 (the last eight-digit name, temps:99991231).
 * Unix ms; the end is exclusive.
 */
export const PARTITION_RANGE = { startMs: 0, endMs: Date.UTC(9999, 11, 31) + DAY_MS } as const;

/** The partition that holds a reading taken at `ms` (Unix milliseconds, UTC day). */
export function partitionKeyFor(ms: number): string {
  return `${PARTITION_PREFIX}${utcDay(ms, '')}`;
}

/** Start of the UTC day a partition covers, or `null` when `key` is not a valid partition name. */
export function partitionDayStart(key: string): number | null {
  const match = PARTITION_KEY.exec(key);
  if (!match) return null;
  const [year, month, day] = match.slice(1).map(Number);
  const ms = Date.UTC(year, month - 1, day);
  if (ms < PARTITION_RANGE.startMs) return null;
  // Date.UTC rolls 20250230 over into March; a real partition name round-trips.
  return partitionKeyFor(ms) === key ? ms : null;
}

export function isPartitionKey(key: string): boolean {
  return partitionDayStart(key) !== null;
}

/** The partition of the day after `key`'s; null after temps:99991231, the last one there can be. */
export function nextPartitionKey(key: string): string | null {
  const start = partitionDayStart(key);
  if (start === null) throw new Error(`Not a partition key: ${key}`);
  return start + DAY_MS < PARTITION_RANGE.endMs ? partitionKeyFor(start + DAY_MS) : null;
}

/** Partitions covering [fromMs, toMs), oldest first. */
export function partitionKeysBetween(fromMs: number, toMs: number): string[] {
  const keys: string[] = [];
  for (let day = startOfDay(fromMs); day < toMs; day += DAY_MS) keys.push(partitionKeyFor(day));
  return keys;
}
