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
