/**
 * A state hash in Redis is missing a field or holds one that cannot be what its owner wrote: the
 * message names the key, the field and what to do. Thrown rather than half-using the state.
 */
export class CorruptStateError extends Error {
  override name = 'CorruptStateError';
}
