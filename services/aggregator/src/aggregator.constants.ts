/** The event pattern the Redis Streams transport delivers partition reads to. */
export const READINGS_PATTERN = 'temps.readings';

/** Injection token for the validated AggregatorConfig. */
export const AGGREGATOR_CONFIG = Symbol('AGGREGATOR_CONFIG');

/** Injection token for the aggregator's clock (Unix ms; Date.now unless a test gives a fake one). */
export const AGGREGATOR_CLOCK = Symbol('AGGREGATOR_CLOCK');
