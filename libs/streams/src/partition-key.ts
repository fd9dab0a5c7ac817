import { PARTITION_PREFIX } from './keys';
import { DAY_MS, startOfDay, utcDay } from './time';

/** `temps:YYYYMMDD`, or a lane's `temps:YYYYMMDD:{L.k}` (see lanes.ts). */
const PARTITION_KEY = /^temps:(\d{4})(\d{2})(\d{2})(?::\{(\d+\.\d+)\})?$/;

/**
 * The days a partition can cover: from 1970-01-01 (stream IDs count milliseconds from the Unix
 * epoch; nothing lies before it) to 9999-12-31 (the last eight-digit name, temps:99991231).
 * Unix ms; the end is exclusive.
 */
export const PARTITION_RANGE = { startMs: 0, endMs: Date.UTC(9999, 11, 31) + DAY_MS } as const;

/**
 * The partition that holds a reading taken at `ms` (Unix milliseconds, UTC day): `temps:YYYYMMDD`,
 * or with a lane's `tag` `temps:YYYYMMDD:{tag}`.
 */
export function partitionKeyFor(ms: number, tag: string | null = null): string {
  const day = `${PARTITION_PREFIX}${utcDay(ms, '')}`;
  return tag === null ? day : `${day}:{${tag}}`;
}

/** The lane tag of a partition key (`3.17` for `temps:20250101:{3.17}`); null for `temps:YYYYMMDD`. */
export function partitionTag(key: string): string | null {
  return PARTITION_KEY.exec(key)?.[4] ?? null;
}

/** Start of the UTC day a partition (of any lane) covers, or `null` when `key` is not a valid partition name. */
export function partitionDayStart(key: string): number | null {
  const match = PARTITION_KEY.exec(key);
  if (!match) return null;
  const [year, month, day] = match.slice(1, 4).map(Number);
  const ms = Date.UTC(year, month - 1, day);
  if (ms < PARTITION_RANGE.startMs) return null;
  // Date.UTC rolls 20250230 over into March; a real partition name round-trips.
  return partitionKeyFor(ms, match[4] ?? null) === key ? ms : null;
}

export function isPartitionKey(key: string): boolean {
  return partitionDayStart(key) !== null;
}

/** The partition of the day after `key`'s; null after temps:99991231, the last one there can be. */
export function nextPartitionKey(key: string): string | null {
  const start = partitionDayStart(key);
  if (start === null) throw new Error(`Not a partition key: ${key}`);
  return start + DAY_MS < PARTITION_RANGE.endMs
    ? partitionKeyFor(start + DAY_MS, partitionTag(key))
    : null;
}

/** Partitions covering [fromMs, toMs), oldest first (of lane `tag`, when given). */
export function partitionKeysBetween(
  fromMs: number,
  toMs: number,
  tag: string | null = null,
): string[] {
  const keys: string[] = [];
  for (let day = startOfDay(fromMs); day < toMs; day += DAY_MS) {
    keys.push(partitionKeyFor(day, tag));
  }
  return keys;
}
