import { Inject, Injectable, Logger } from '@nestjs/common';
import type { StreamCursor, StreamCursorSource, StreamReadEvent } from '@temps/redis';
import { AVERAGES_STREAM, decodeAverage, describeAverage } from '@temps/streams';
import { AVERAGES_CONFIG } from './averages.constants';
import type { AveragesConfig } from './averages-config';
import { AveragesMetrics } from './averages.metrics';
import { AveragesRepository, type ReaderState } from './averages.repository';

const YELLOW = '\u001b[33m';
const RESET = '\u001b[0m';

/** The averages consumer: prints each hourly average once and remembers where it is. */
@Injectable()
export class AveragesService implements StreamCursorSource {
  private readonly logger = new Logger('Averages');
  private state: ReaderState = { lastId: '0', lastSeq: 0 };
  private waiting = false;

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
      const average = decodeAverage(fields.map((field) => field.toString()));
      if (!average) {
        malformed++;
        this.logger.warn(`Skipping ${AVERAGES_STREAM} entry ${id}: not an hourly average.`);
        continue;
      }
      if (average.seq > lastSeq + 1) {
        const gap = average.seq - lastSeq - 1;
        missed += gap;
        lines.push(
          `Missed ${gap} hourly average${gap === 1 ? '' : 's'}: trimmed from ${AVERAGES_STREAM} (MAXLEN) before they were read.`,
        );
      }
      lastSeq = Math.max(lastSeq, average.seq);
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

  private highlight(line: string): string {
    return this.config.color ? `${YELLOW}${line}${RESET}` : line;
  }

  private print(line: string): void {
    process.stdout.write(`${line}\n`);
  }
}
