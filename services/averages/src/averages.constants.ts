/** The event pattern the Redis Streams transport delivers temps:averages reads to. */
export const AVERAGES_PATTERN = 'temps.averages';

/** Injection token for the validated AveragesConfig. */
export const AVERAGES_CONFIG = Symbol('AVERAGES_CONFIG');
