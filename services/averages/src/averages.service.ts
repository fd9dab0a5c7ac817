import { Inject, Injectable, Logger } from '@nestjs/common';
import type { StreamCursor, StreamCursorSource, StreamReadEvent } from '@temps/redis';
import { ConsoleOutput, Standby } from '@temps/runtime';
import {
  AVERAGES_READER_STATE_KEY,
  AVERAGES_STREAM,
  compareEntryIds,
  decodeAverage,
  describeAverage,
} from '@temps/streams';
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
  /** Set while another reader saves the position: what it saved, and since when it is unchanged. */
  private standby: Standby | null = null;

  constructor(
    @Inject(AVERAGES_CONFIG) private readonly config: AveragesConfig,
    private readonly repository: AveragesRepository,
    private readonly metrics: AveragesMetrics,
    private readonly console: ConsoleOutput,
  ) {}

  async start(): Promise<void> {
    const saved = await this.repository.load();
    this.state = saved ?? (await this.repository.initialize(this.state));
    this.print(
      `Starting averages consumer in stream ${AVERAGES_STREAM} at message ${this.state.lastId}.`,
    );
  }

  /** The `seq` of the last average read (0 before the first). */
  lastSeq(): number {
    return this.state.lastSeq;
  }

  cursor(): StreamCursor {
    // In standby: idle turns only.
    return this.standby ? [] : [[AVERAGES_STREAM, this.state.lastId]];
  }

  async handle(event: StreamReadEvent): Promise<void> {
    if (this.standby) return this.watchOther(this.standby);
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
    // Printed before the position is saved: a crash in between prints a line again on restart,
    // never loses one.
    lines.forEach((line) => this.print(line));
    if (!(await this.saveOrYield({ lastId: entries[entries.length - 1][0], lastSeq }))) return;
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
    await this.saveOrYield({ ...this.state, lastId });
  }

  /**
   * Saves the new position unless the saved one moved under this process (Redis holds the truth);
   * returns whether this process goes on from `to`.
   */
  private async saveOrYield(to: ReaderState): Promise<boolean> {
    const outcome = await this.repository.save(this.state, to);
    if (outcome === 'saved' || outcome === 'mine') {
      this.state = to;
      return true;
    }
    if (outcome === 'gone') {
      this.logger.warn(
        `${AVERAGES_READER_STATE_KEY} disappeared from Redis while the reader ran; reading ${AVERAGES_STREAM} again from its start.`,
      );
      this.state = await this.repository.initialize({ lastId: '0', lastSeq: 0 });
    } else if (outcome === 'reset') {
      this.state = (await this.repository.load()) ?? { lastId: '0', lastSeq: 0 };
      this.logger.warn(
        `${AVERAGES_READER_STATE_KEY} was set back by a start over; reading on from message ${this.state.lastId}.`,
      );
    } else {
      const saved = (await this.repository.load()) ?? this.state;
      this.logger.warn(
        `Another averages reader is using ${AVERAGES_READER_STATE_KEY}; this one waits until it has been quiet for ${Standby.QUIET_MS / 1000} s.`,
      );
      this.standby = new Standby(saved);
    }
    this.recent.length = 0;
    return false;
  }

  /** In standby: take over once the saved position has not changed for Standby.QUIET_MS. */
  private async watchOther(standby: Standby): Promise<void> {
    const saved = await this.repository.load();
    if (!standby.isQuiet(saved)) return;
    this.standby = null;
    this.state = saved ?? (await this.repository.initialize({ lastId: '0', lastSeq: 0 }));
    this.logger.warn(
      `${AVERAGES_READER_STATE_KEY} has not changed for ${Standby.QUIET_MS / 1000} s; reading on from message ${this.state.lastId}.`,
    );
  }

  private highlight(line: string): string {
    return this.config.color ? `${YELLOW}${line}${RESET}` : line;
  }

  private print(line: string): void {
    this.console.line(line);
  }
}
