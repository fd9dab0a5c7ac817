import { nextPartitionKey, partitionDayStart } from './partition-key';
import type { PartialHourReason, PartitionSkipReason } from './reasons';
import { DAY_MS, RETENTION_MS } from './time';

export type SkipReason = PartitionSkipReason;

export interface DrainedPartition {
  /** The partition the aggregator has read to its end (or that does not exist). */
  current: string;
  currentExists: boolean;
  /** Whether any entry of `current` was read (a partition read half-way and then gone has expired). */
  currentStarted: boolean;
  /** Partitions known to exist, in any order (a partial list is fine: it only speeds decisions up). */
  existing: readonly string[];
  /** The producer's watermark: every reading before it is written; null when no producer has run. */
  watermarkMs: number | null;
}

export type Advance =
  { kind: 'stay' } | { kind: 'move'; to: string; skipped: { key: string; reason: SkipReason }[] };

/**
 * Where to read once the current partition has nothing more to give. A partition is finished when
 * the producer's watermark has passed its day or, without a watermark, when a later one exists.
 * From a finished partition the aggregator moves to the next day once that exists, skipping days
 * that are finished but absent: a day the devices sent nothing, or a partition that expired before
 * it was read.
 */
export function advanceWhenDrained(partition: DrainedPartition): Advance {
  const existing = new Set(partition.existing);
  const newest = [...existing].sort().at(-1);
  const dayEnd = (key: string) => partitionDayStart(key)! + DAY_MS;
  // With a producer's watermark, it alone says a day is complete: a later partition may hold
  // readings from a clock running ahead. Without one (data from other producers), a later partition
  // with entries is the proof, as in the exercise.
  const finished = (key: string) =>
    partition.watermarkMs !== null
      ? partition.watermarkMs >= dayEnd(key)
      : newest !== undefined && newest > key;
  // Gone long enough after its day that expiry explains it; otherwise the day had no readings.
  const reasonFor = (key: string): SkipReason =>
    partition.watermarkMs !== null && partition.watermarkMs >= dayEnd(key) + RETENTION_MS
      ? 'expired'
      : 'empty';

  if (!finished(partition.current)) return { kind: 'stay' };
  const skipped: { key: string; reason: SkipReason }[] = [];
  if (!partition.currentExists) {
    skipped.push({
      key: partition.current,
      reason: partition.currentStarted ? 'expired' : reasonFor(partition.current),
    });
  }
  let to = nextPartitionKey(partition.current);
  while (to !== null && !existing.has(to) && finished(to)) {
    skipped.push({ key: to, reason: reasonFor(to) });
    to = nextPartitionKey(to);
  }
  // Past temps:99991231 there is nowhere to go: stay at the last day.
  if (to === null) return { kind: 'stay' };
  // A finished partition that is still there is the place to wait for the next one to appear.
  if (partition.currentExists && skipped.length === 0 && !existing.has(to)) return { kind: 'stay' };
  return { kind: 'move', to, skipped };
}

/**
 * Why readings of partition `key` were lost when it disappeared before they were read: `expired`
 * once the producer's watermark is RETENTION_MS past the day's end (expiry explains it; also when
 * there is no watermark, which cannot tell), `evicted` before (evicted under `maxmemory`, or deleted:
 * our producer's partitions live at least that long).
 */
export function lossReason(key: string, watermarkMs: number | null): PartialHourReason {
  const retained = partitionDayStart(key)! + DAY_MS + RETENTION_MS;
  return watermarkMs !== null && watermarkMs < retained ? 'evicted' : 'expired';
}
