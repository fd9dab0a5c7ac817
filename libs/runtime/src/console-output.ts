import { Injectable } from '@nestjs/common';

/**
 * The one writer of a service's console lines (the seed's lines, progress), on stdout. Injected, so
 * nothing else writes there and a test can take the lines instead. Logs (Nest's Logger) and one-line
 * start-up errors go elsewhere: they are not the service's output.
 */
@Injectable()
export class ConsoleOutput {
  /** The stream written to; a progress bar draws on it too. */
  readonly stream: NodeJS.WriteStream = process.stdout;

  /** Whether a person is watching (stdout is a terminal): progress bars, colour. */
  get interactive(): boolean {
    return Boolean(this.stream.isTTY);
  }

  /** Writes `text` and a newline. */
  line(text: string): void {
    this.stream.write(`${text}\n`);
  }

  /** Writes `text` as it is (terminal control, e.g. clearing a progress bar's line first). */
  raw(text: string): void {
    this.stream.write(text);
  }
}
