export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** How long a partition outlives its newest reading, in simulated time. */
export const RETENTION_MS = 2 * DAY_MS;

/** Start of the UTC day holding `ms`. */
export function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Start of the UTC hour holding `ms`. */
export function startOfHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/**
 * The UTC calendar day holding `ms` (Unix milliseconds, years 0000–9999) as `YYYY<sep>MM<sep>DD`:
 * `utcDay(ms, '')` names a partition (`20250101`), `utcDay(ms, '/')` is an average's `date`
 * (`2025/01/01`) and `utcDay(ms, '-')` is the ISO date the producer's options take.
 */
export function utcDay(ms: number, separator: '' | '/' | '-'): string {
  const date = new Date(ms);
  const yyyy = String(date.getUTCFullYear()).padStart(4, '0');
  const mm = String(date.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(date.getUTCDate()).padStart(2, '0');
  return [yyyy, mm, dd].join(separator);
}
