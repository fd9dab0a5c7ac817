import { Injectable } from '@nestjs/common';
import { ConsoleOutput } from '@temps/runtime';
import { SingleBar } from 'cli-progress';

/**
 * The producer's console: the seed's lines ("Deleting old streams:", "Populating stream partition
 * temps:YYYYMMDD.") always, plus a progress bar with rate and ETA when writing to a terminal.
 */
@Injectable()
export class ProgressReporter {
  private bar: SingleBar | null = null;

  constructor(private readonly console: ConsoleOutput) {}

  line(text: string): void {
    if (this.bar) {
      // Print above the bar, then redraw it.
      this.console.raw(`\r\x1b[2K${text}\n`);
      this.bar.render();
    } else {
      this.console.line(text);
    }
  }

  /** Starts the bar for a bounded run (no-op off a terminal or for a run without end). */
  start(total: number, done: number): void {
    if (!this.console.interactive || total <= 0) return;
    this.bar = new SingleBar({
      stream: this.console.stream,
      format: ' {bar} {percentage}% | {value}/{total} readings | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
      noTTYOutput: false,
    });
    this.bar.start(total, done, { rate: 0 });
  }

  update(done: number, ratePerSecond: number): void {
    this.bar?.update(done, { rate: Math.round(ratePerSecond).toLocaleString('en-US') });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
