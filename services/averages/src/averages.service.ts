import { Inject, Injectable, Logger } from '@nestjs/common';
import type { StreamCursor, StreamCursorSource, StreamReadEvent } from '@temps/redis';
import { AVERAGES_STREAM, compareEntryIds, decodeAverage, describeAverage } from '@temps/streams';
import { AVERAGES_CONFIG } from './averages.constants';
import type { AveragesConfig } from './averages-config';
import { AveragesMetrics } from './averages.metrics';
import { AveragesRepository, type ReaderState } from './averages.repository';

const RECENT_IDS = 1_000;
const YELLOW = '\u001b[33m';
const RESET = '\u001b[0m';

/** The averages consumer: prints each hourly average once and remembers where it is. */
@Injectable()
export class AveragesService implements StreamCursorSource {
  private readonly logger = new Logger('Averages');
  private state: ReaderState = { lastId: '0', lastSeq: 0 };
  private waiting = false;
  /** IDs this process has read, oldest first: where to go back to if the stream is set back. */
  private readonly recent: string[] = [];

  constructor(
    @Inject(AVERAGES_CONFIG) private readonly config: AveragesConfig,
    private readonly repository: AveragesRepository,
    private readonly metrics: AveragesMetrics,
  ) {}

  async start(): Promise<void> {
    const saved = await this.repository.load();
    if (saved) this.state = saved;
    else await this.repository.save(this.state);
    this.print(
      `Starting averages consumer in stream ${AVERAGES_STREAM} at message ${this.state.lastId}.`,
    );
  }

  cursor(): StreamCursor {
    return [[AVERAGES_STREAM, this.state.lastId]];
  }

  async handle(event: StreamReadEvent): Promise<void> {
    const entries = event.reads.find((read) => read.stream === AVERAGES_STREAM)?.entries ?? [];
    if (entries.length === 0) {
      await this.followSetBack();
      if (!this.waiting) this.print(`Waiting for new messages in stream ${AVERAGES_STREAM}`);
      this.waiting = true;
      return;
    }
    this.waiting = false;
    let { lastSeq } = this.state;
    const lines: string[] = [];
    let read = 0;
    let missed = 0;
    let malformed = 0;
    for (const [id, fields] of entries) {
      this.recent.push(id);
      if (this.recent.length > RECENT_IDS) this.recent.shift();
      const average = decodeAverage(fields.map((field) => field.toString()));
      if (!average) {
        malformed++;
        this.logger.warn(`Skipping ${AVERAGES_STREAM} entry ${id}: not an hourly average.`);
        continue;
      }
      // Averages without `seq` (the exercise's own format) cannot tell what was trimmed: no gap.
      if (average.seq !== null && average.seq > lastSeq + 1) {
        const gap = average.seq - lastSeq - 1;
        missed += gap;
        lines.push(
          `Missed ${gap} hourly average${gap === 1 ? '' : 's'}: trimmed from ${AVERAGES_STREAM} (MAXLEN) before they were read.`,
        );
      }
      if (average.seq !== null) lastSeq = Math.max(lastSeq, average.seq);
      lines.push(this.highlight(describeAverage(average)));
      read++;
    }
    lines.forEach((line) => this.print(line));
    this.state = { lastId: entries[entries.length - 1][0], lastSeq };
    await this.repository.save(this.state);
    this.metrics.read.inc(read);
    this.metrics.missed.inc(missed);
    this.metrics.malformed.inc(malformed);
  }

  /**
   * Entries after the reader's position were deleted and the stream's ID counter set back (a
   * foreign entry removed, the stream recreated): new averages come below the position, where an
   * XREAD after it would never see them. Read on from where the stream now ends.
   */
  private async followSetBack(): Promise<void> {
    const last = await this.repository.lastGeneratedId();
    if (last === null || compareEntryIds(last, this.state.lastId) >= 0) return;
    // Back to the newest entry read that is still below the new end: averages added since the
    // set-back come after it (the stream's end may already be past them).
    while (this.recent.length > 0 && compareEntryIds(this.recent[this.recent.length - 1], last) > 0)
      this.recent.pop();
    const lastId = this.recent[this.recent.length - 1] ?? last;
    this.logger.warn(
      `${AVERAGES_STREAM} was set back (entries after ${lastId} were deleted); reading on from there.`,
    );
    this.state = { ...this.state, lastId };
    await this.repository.save(this.state);
  }

  private highlight(line: string): string {
    return this.config.color ? `${YELLOW}${line}${RESET}` : line;
  }

  private print(line: string): void {
    process.stdout.write(`${line}\n`);
  }
}
