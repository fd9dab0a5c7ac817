/** The event pattern the Redis Streams transport delivers temps:averages reads to. */
export const AVERAGES_PATTERN = 'temps.averages';

/** Injection token for the validated AveragesConfig. */
export const AVERAGES_CONFIG = Symbol('AVERAGES_CONFIG');

/** Injection token for the reader's clock (Unix ms; Date.now unless a test gives a fake one). */
export const AVERAGES_CLOCK = Symbol('AVERAGES_CLOCK');
