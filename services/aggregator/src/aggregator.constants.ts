/** The event pattern the Redis Streams transport delivers partition reads to. */
export const READINGS_PATTERN = 'temps.readings';

/** Injection token for the validated AggregatorConfig. */
export const AGGREGATOR_CONFIG = Symbol('AGGREGATOR_CONFIG');

/** Injection token for the aggregator's clock (Unix ms; Date.now unless a test gives a fake one). */
export const AGGREGATOR_CLOCK = Symbol('AGGREGATOR_CLOCK');

/**
 * Injection token for the consumer the transport drives: AggregatorService (one stream a day) or,
 * with PRODUCER_SHARDS, LanesAggregatorService.
 */
export const AGGREGATOR_CONSUMER = Symbol('AGGREGATOR_CONSUMER');
