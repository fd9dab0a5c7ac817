/** Injection token for the validated ProducerConfig. */
export const PRODUCER_CONFIG = Symbol('PRODUCER_CONFIG');
