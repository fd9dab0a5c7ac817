/**
 * Every reason the aggregator gives, in one place, so metrics can start each labelled series at 0.
 *
 * Partition entries left out of the averages (`temps_readings_rejected_total{reason}`): the first
 * four are about the entry itself; `wrong_partition` is an ID outside its partition's day; `late` a
 * reading whose hour is already on temps:averages (or that landed in a partition the aggregator had
 * left); `early` a reading ahead of the producer's watermark, waiting until the watermark reaches it.
 */
export const READING_REJECT_REASONS = [
  'missing_temp',
  'not_a_number',
  'out_of_range',
  'unexpected_field',
  'wrong_partition',
  'late',
  'early',
] as const;
export type ReadingRejectReason = (typeof READING_REJECT_REASONS)[number];

/** Day partitions passed over (`temps_partitions_skipped_total{reason}`). */
export const PARTITION_SKIP_REASONS = ['empty', 'expired'] as const;
export type PartitionSkipReason = (typeof PARTITION_SKIP_REASONS)[number];

/**
 * Why an hour's average is partial (`partial` on temps:averages, `temps_partial_hours_total{reason}`):
 * readings of the hour were lost before the aggregator read them, because their partition
 * disappeared. `expired`: it was gone once its retention (RETENTION_MS after its day, by the
 * producer's watermark) had run out — or there is no watermark to tell; `evicted`: it was gone
 * before its retention ran out — evicted under `maxmemory`, or deleted.
 */
export const PARTIAL_HOUR_REASONS = ['expired', 'evicted'] as const;
export type PartialHourReason = (typeof PARTIAL_HOUR_REASONS)[number];
