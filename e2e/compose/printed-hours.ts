import { expectedHours } from '@temps/testing';
import { DAY_MS, HOUR_MS } from '@temps/streams';

/** An hourly average as the averages reader printed it (the seed's line). */
export interface PrintedHour {
  /** Start of the hour, ms since epoch (UTC). */
  hourMs: number;
  value: number;
  observations: number;
}

const LINE =
  /^Average temperature for (\d{4})\/(\d{2})\/(\d{2}) at (\d{1,2}) was (-?\d+)F \((\d+) observations\)\.$/;

/** Every average line in a reader's output, in the order printed. */
export function printedHours(output: string): PrintedHour[] {
  return output.split('\n').flatMap((line) => {
    const match = LINE.exec(line.trim());
    if (!match) return [];
    const [year, month, day, hour, value, observations] = match.slice(1).map(Number);
    return [{ hourMs: Date.UTC(year, month - 1, day, hour), value, observations }];
  });
}

/**
 * Checks printed hours against averages computed independently from the readings a producer run
 * with `seed` writes from `startMs` on (one device, one reading a second): the hours must start at
 * the run's first hour and follow one another without a gap or a repeat, each with all its
 * observations and the exact value. Returns one line per problem.
 */
export function hourProblems(
  printed: readonly PrintedHour[],
  startMs: number,
  seed: number,
): string[] {
  if (printed.length === 0) return ['no hour printed'];
  const last = printed[printed.length - 1].hourMs;
  const days = Math.ceil((last + HOUR_MS - startMs) / DAY_MS);
  const hours = expectedHours({ startMs, days, devices: 1, seed });
  const problems: string[] = [];
  printed.forEach(({ hourMs, value, observations }, i) => {
    const at = new Date(hourMs).toISOString().slice(0, 13);
    const want = i === 0 ? startMs : printed[i - 1].hourMs + HOUR_MS;
    if (hourMs !== want)
      problems.push(
        `line ${i + 1}: ${at} printed where ${new Date(want).toISOString().slice(0, 13)} was due`,
      );
    const expected = hours.get(hourMs);
    if (!expected) return void problems.push(`line ${i + 1}: ${at} is outside the run`);
    if (observations !== expected.count)
      problems.push(`line ${i + 1}: ${at} from ${observations} of ${expected.count} readings`);
    if (value !== Math.floor(expected.total / expected.count))
      problems.push(
        `line ${i + 1}: ${at} was ${value}F, the readings give ${Math.floor(expected.total / expected.count)}F`,
      );
  });
  return problems;
}
