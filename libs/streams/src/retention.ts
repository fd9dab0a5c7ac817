import { isPartitionKey, partitionTag } from './partition-key';

/** A day partition as Redis holds it now. */
export interface LivePartition {
  key: string;
  /** Milliseconds until the partition expires (PTTL), or null when it has no expiry. */
  ttlMs: number | null;
}

/**
 * How long a consumer standing in partition `cursor` can stay away before it loses readings: the
 * time until the oldest partition it has not finished reading (its own, or the first one after it
 * that exists) expires. Milliseconds; null when no such partition exists or it never expires (there
 * is nothing to lose).
 */
export function headroomMs(cursor: string, partitions: readonly LivePartition[]): number | null {
  let oldest: LivePartition | null = null;
  const lane = partitionTag(cursor);
  for (const partition of partitions) {
    // Only the cursor's own lane (or the exercise's layout): names of one lane sort by day.
    if (!isPartitionKey(partition.key) || partitionTag(partition.key) !== lane) continue;
    if (partition.key < cursor) continue;
    if (oldest === null || partition.key < oldest.key) oldest = partition;
  }
  return oldest?.ttlMs ?? null;
}
