/** Ends the process with these lines on stdout and this exit code (e.g. the seed's usage hints). */
export class ExitRequest extends Error {
  override name = 'ExitRequest';
  /** Thrown from a stream handler, it ends the consumer instead of being retried. */
  readonly fatal = true;
  constructor(
    readonly lines: string[],
    readonly code = 1,
  ) {
    super(lines.join(' '));
  }
}
