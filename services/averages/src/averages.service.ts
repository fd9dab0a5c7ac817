import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import {
  StaleStateError,
  StateGoneError,
  type StreamCursor,
  type StreamCursorSource,
  type StreamReadEvent,
} from '@temps/redis';
import { ConsoleOutput, SingleWriter } from '@temps/runtime';
import {
  AVERAGES_STREAM,
  AveragesReaderStateHash,
  averageProblem,
  compareEntryIds,
  decodeAverage,
  describeAverage,
} from '@temps/streams';
import { AVERAGES_CLOCK, AVERAGES_CONFIG } from './averages.constants';
import type { AveragesConfig } from './averages-config';
import { AveragesMetrics } from './averages.metrics';
import { AveragesRepository, type ReaderState, type SavedReaderState } from './averages.repository';

const START: ReaderState = { lastId: AveragesReaderStateHash.START, lastSeq: 0 };

const RECENT_IDS = 1_000;

const YELLOW = '\u001b[33m';
const RESET = '\u001b[0m';

/** The averages consumer: prints each hourly average once and remembers where it is. */
@Injectable()
export class AveragesService implements StreamCursorSource {
  private readonly logger = new Logger('Averages');
  private state: ReaderState = START;
  private waiting = false;
  /** IDs this process has read, oldest first: where to go back to if the stream is set back. */
  private readonly recent: string[] = [];
  /**
   * The last entry whose line this process printed but may not have saved yet: a save refused for
   * a while (MISCONF, READONLY…) is tried again with the same entries, which are not printed twice.
   */
  private printedThrough: string | null = null;
  /** Stands by while another reader saves the position; takes over once it is quiet. */
  private readonly writer: SingleWriter<ReaderState | null>;

  constructor(
    @Inject(AVERAGES_CONFIG) private readonly config: AveragesConfig,
    private readonly repository: AveragesRepository,
    private readonly metrics: AveragesMetrics,
    private readonly console: ConsoleOutput,
    @Optional() @Inject(AVERAGES_CLOCK) now: () => number = Date.now,
  ) {
    this.writer = new SingleWriter({ now });
  }

  async start(): Promise<void> {
    const saved = await this.repository.load();
    this.state = position(saved ?? (await this.repository.initialize(START)));
    this.print(
      `Starting averages consumer in stream ${AVERAGES_STREAM} at message ${this.state.lastId}.`,
    );
    await this.resolveSeq();
  }

  /**
   * A position saved without `last_seq` (as the exercise's own reader saves it): resume after
   * `last_message_id` as the exercise does, taking the seq from that entry when it is still there.
   * Otherwise says averages were missed only when Redis proves one after it was deleted, and that
   * some may have been when the stream was trimmed past it; never a count, never a gap counted
   * from a seq it does not know.
   */
  private async resolveSeq(): Promise<void> {
    if (this.state.lastSeq !== null) return;
    const seq = await this.repository.seqOf(this.state.lastId);
    if (seq !== undefined) {
      this.state = { ...this.state, lastSeq: seq };
      return;
    }
    const removed = await this.repository.removedAfter(this.state.lastId);
    if (removed === 'deleted') {
      this.print(
        `Missed hourly averages after message ${this.state.lastId} (how many is not known): deleted from ${AVERAGES_STREAM} before they were read.`,
      );
    } else if (removed === 'maybe-trimmed') {
      this.print(
        `Hourly averages after message ${this.state.lastId} may have been trimmed from ${AVERAGES_STREAM} (MAXLEN) before they were read; it no longer holds that message, so how many is not known.`,
      );
    }
  }

  /** The `seq` of the last average read (0 before the first; null when not known). */
  lastSeq(): number | null {
    return this.state.lastSeq;
  }

  cursor(): StreamCursor {
    // In standby: idle turns only.
    return this.writer.standingBy ? [] : [[AVERAGES_STREAM, this.state.lastId]];
  }

  async handle(event: StreamReadEvent): Promise<void> {
    if (this.writer.standingBy) return this.watchOther();
    const entries = event.reads.find((read) => read.stream === AVERAGES_STREAM)?.entries ?? [];
    if (entries.length === 0) {
      await this.followSetBack();
      if (!(await this.holdsSaved())) return;
      if (!this.waiting) this.print(`Waiting for new messages in stream ${AVERAGES_STREAM}`);
      this.waiting = true;
      return;
    }
    this.waiting = false;
    let { lastSeq } = this.state;
    const lines: string[] = [];
    const printed = this.printedThrough;
    const fresh = (id: string) => printed === null || compareEntryIds(id, printed) > 0;
    let read = 0;
    let missed = 0;
    let malformed = 0;
    for (const [id, fields] of entries) {
      this.recent.push(id);
      if (this.recent.length > RECENT_IDS) this.recent.shift();
      const average = decodeAverage(fields.map((field) => field.toString()));
      if (!average) {
        malformed++;
        if (fresh(id)) {
          this.logger.warn(`Skipping ${AVERAGES_STREAM} entry ${id}: not an hourly average.`);
        }
        continue;
      }
      // Averages without `seq` (the exercise's own format) cannot tell what was trimmed, nor can a
      // seq after one not known: no gap.
      if (
        average.seq !== null &&
        Number.isSafeInteger(average.seq) &&
        lastSeq !== null &&
        average.seq > lastSeq + 1
      ) {
        const gap = average.seq - lastSeq - 1;
        missed += gap;
        if (fresh(id))
          lines.push(
            `Missed ${gap} hourly average${gap === 1 ? '' : 's'}: trimmed from ${AVERAGES_STREAM} (MAXLEN) before they were read.`,
          );
      }
      if (average.seq !== null && Number.isSafeInteger(average.seq)) {
        lastSeq = Math.max(lastSeq ?? 0, average.seq);
      }
      // The warehouse's rule too: what is printed is what the warehouse stores.
      const problem = averageProblem(average);
      if (problem !== null) {
        malformed++;
        this.logger.warn(`Skipping ${AVERAGES_STREAM} entry ${id}: ${problem}.`);
        continue;
      }
      if (fresh(id)) lines.push(this.highlight(describeAverage(average)));
      read++;
    }
    // Printed before the position is saved: a crash in between prints a line again on restart,
    // never loses one.
    lines.forEach((line) => this.print(line));
    const lastId = entries[entries.length - 1][0];
    if (fresh(lastId)) this.printedThrough = lastId;
    if (!(await this.saveOrYield({ lastId, lastSeq }))) return;
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
    this.printedThrough = null; // what comes after it now is new, whatever its ID
    await this.saveOrYield({ ...this.state, lastId });
  }

  /**
   * Idle turns check that Redis still holds this process's position: a position set back or lost
   * while nothing new arrives (a crash losing the last saves, a deletion) would otherwise go
   * unnoticed, since only a save compares. Returns whether it does; if not, the refusal rules of
   * saveOrYield decide from what Redis holds.
   */
  private async holdsSaved(): Promise<boolean> {
    const saved = await this.repository.load();
    if (saved?.lastId === this.state.lastId && saved.writtenBy === this.repository.instanceId) {
      return true;
    }
    return this.saveOrYield(this.state);
  }

  /**
   * Saves the new position unless the saved one moved under this process (Redis holds the truth);
   * returns whether this process goes on from `to`.
   */
  private async saveOrYield(to: ReaderState): Promise<boolean> {
    try {
      await this.repository.save(this.state, to);
      this.state = to;
      return true;
    } catch (error) {
      if (error instanceof StateGoneError) {
        this.logger.warn(
          `${this.repository.key} disappeared from Redis while the reader ran (deleted, or evicted under an allkeys-* maxmemory-policy); reading ${AVERAGES_STREAM} again from its start.`,
        );
        this.state = position(await this.repository.initialize(START));
      } else if (error instanceof StaleStateError) {
        const saved = await this.repository.load();
        if (saved?.writtenBy === this.repository.instanceId && saved.lastId === to.lastId) {
          // This process's own save, applied before a connection dropped and sent again.
          this.state = to;
          return true;
        }
        if (saved?.writtenBy === this.repository.instanceId) {
          // An older position of this process's own: saves Redis acknowledged were lost (a crash
          // inside the append-only file's fsync window). Redis holds the truth: read on from there.
          this.state = position(saved);
          this.logger.warn(
            `${this.repository.key} is back at message ${saved.lastId} (saves were lost, e.g. in a Redis crash); reading on from there.`,
          );
        } else if (saved && saved.writtenBy === null) {
          // Set back by a start over (which saves no writer): read on from there.
          this.state = position(saved);
          this.logger.warn(
            `${this.repository.key} was set back by a start over; reading on from message ${this.state.lastId}.`,
          );
        } else if (this.writer.onRefused(saved && position(saved))) {
          this.logger.warn(
            `Another averages reader is using ${this.repository.key}; this one waits until it has been quiet for ${SingleWriter.QUIET_MS / 1000} s.`,
          );
        }
      } else {
        throw error;
      }
    }
    this.recent.length = 0;
    this.printedThrough = null;
    return false;
  }

  /** In standby: take over once the saved position has not changed for SingleWriter.QUIET_MS. */
  private async watchOther(): Promise<void> {
    const saved = await this.repository.load();
    if (this.writer.poll(saved && position(saved)) === 'wait') return;
    this.printedThrough = null;
    this.state = position(saved ?? (await this.repository.initialize(START)));
    this.logger.warn(
      `${this.repository.key} has not changed for ${SingleWriter.QUIET_MS / 1000} s; reading on from message ${this.state.lastId}.`,
    );
    await this.resolveSeq();
  }

  private highlight(line: string): string {
    return this.config.color ? `${YELLOW}${line}${RESET}` : line;
  }

  private print(line: string): void {
    this.console.line(line);
  }
}

/** The position alone (without who saved it). */
function position(saved: SavedReaderState): ReaderState {
  return { lastId: saved.lastId, lastSeq: saved.lastSeq };
}
