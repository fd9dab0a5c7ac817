/** Redis key names shared by every service; they follow the seed exercise so `redis-cli` sessions read the same. */

/** Every day partition is `temps:YYYYMMDD`. */
export const PARTITION_PREFIX = 'temps:';

/** Matches day partitions only (not `temps:averages` or foreign keys such as `temps:garbage`). */
export const PARTITION_PATTERN = `${PARTITION_PREFIX}${'[0-9]'.repeat(8)}`;

/** SCAN pattern of lane `tag`'s day partitions, or (tag '*') of every lane's. */
export function lanePartitionPattern(tag: string): string {
  return `${PARTITION_PATTERN}:{${tag}}`;
}

/** The length-capped stream of hourly averages. */
export const AVERAGES_STREAM = 'temps:averages';

/** Hash holding the producer's run: parameters, clock mapping, generator state and watermark. */
export const PRODUCER_STATE_KEY = 'producer_state';

/** Hash holding the aggregating consumer's cursor and running totals (seed field names). */
export const AGGREGATOR_STATE_KEY = 'aggregating_consumer_state';

/** Hash holding the averages reader's last seen entry ID (seed field name). */
export const AVERAGES_READER_STATE_KEY = 'averages_consumer_state';
