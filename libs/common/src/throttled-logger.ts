/** What a `ThrottledLogger` writes to: a Nest `Logger`, or anything with the same methods. */
export interface LineSink {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * A logger for conditions that repeat while they last (Redis away, a foreign entry in the way, a
 * warehouse down): a line is written when its key was not written in the last `everyMs`
 * (milliseconds), so a retry loop logs once per period instead of once per attempt. The key is the
 * line itself unless given: a different line is news and is written at once.
 */
export class ThrottledLogger {
  private readonly written = new Map<string, number>();

  constructor(
    private readonly sink: LineSink,
    private readonly everyMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  log(line: string, key = line): boolean {
    return this.write('log', line, key);
  }

  warn(line: string, key = line): boolean {
    return this.write('warn', line, key);
  }

  error(line: string, key = line): boolean {
    return this.write('error', line, key);
  }

  /** Forgets what was written, so the next line of any key is written (the condition ended). */
  reset(): void {
    this.written.clear();
  }

  private write(level: keyof LineSink, line: string, key: string): boolean {
    const at = this.now();
    const last = this.written.get(key);
    if (last !== undefined && at - last < this.everyMs) return false;
    this.written.set(key, at);
    this.sink[level](line);
    return true;
  }
}
