import {
  EMPTY_WINDOW,
  partitionDayStart,
  positionMs,
  rangeAfter,
  rangeAfterRange,
  rangeRest,
  type AggregatorState,
  type FoldRange,
  type WindowState,
} from '@temps/streams';
import type { FoldRead } from './aggregator.repository';

/** Folds a range of the state's partition, continuing the state's open hour (the repository). */
export type FoldSource = (state: AggregatorState, range: FoldRange) => Promise<FoldRead>;

/** A fold in partition order; `fresh` when it began at an hour with an empty window. */
export interface OrderedFold extends FoldRead {
  fresh: boolean;
}

interface Pending {
  range: FoldRange;
  fresh: boolean;
  reply: Promise<FoldRead>;
}

/**
 * Reads the state's partition as folds in partition order, keeping `depth` folds queued in Redis
 * so it never waits for the service between two (Redis runs them one after another on one
 * connection). The next hours are folded ahead, each from its start with an empty window; a range
 * whose bound was reached is finished before them.
 *
 * Nothing is passed over: IDs only grow, so a range read while the stream already held an entry
 * past its end was complete (`more` with `exhausted`); the first range found at the stream's end
 * (not `more`) ends the reading, and folds ahead of it are dropped.
 */
export class FoldReader {
  private queue: Pending[] = [];
  /** The last hour range requested (continuations aside). */
  private planned: FoldRange | null;
  private readonly dayStartMs: number;

  constructor(
    private readonly source: FoldSource,
    private readonly state: AggregatorState,
    private readonly depth = 2,
  ) {
    this.dayStartMs = partitionDayStart(state.streamKey)!;
    this.planned = rangeAfter(state.lastId, positionMs(state), this.dayStartMs);
    this.queue.push(this.request(this.planned, false, state.window));
    this.topUp();
  }

  /** The next fold in order; null once the partition's end, an early entry or `close` is reached. */
  async next(): Promise<OrderedFold | null> {
    const head = this.queue.shift();
    if (!head) return null;
    const read = await head.reply;
    const { fold } = read;
    if (fold.early || !fold.more) {
      await this.close();
    } else if (!fold.exhausted) {
      // The bound was reached: the rest of this range comes before the hours folded ahead.
      const rest = this.request(
        rangeRest(head.range, fold.lastId!),
        head.fresh && fold.openedMs === null,
        fold.window,
      );
      this.queue.unshift(rest);
    } else {
      this.topUp();
    }
    return { ...read, fresh: head.fresh };
  }

  /** Drops the folds still queued (waiting for them, so none fails unobserved). */
  async close(): Promise<void> {
    const dropped = this.queue;
    this.queue = [];
    this.planned = null;
    await Promise.allSettled(dropped.map(({ reply }) => reply));
  }

  private topUp(): void {
    while (this.planned && this.queue.length < this.depth) {
      const next = rangeAfterRange(this.planned, this.dayStartMs);
      this.planned = next;
      if (next) this.queue.push(this.request(next, true, EMPTY_WINDOW));
    }
  }

  private request(range: FoldRange, fresh: boolean, window: WindowState): Pending {
    const reply = this.source({ ...this.state, window }, range);
    reply.catch(() => undefined); // awaited in order by next(), or by close()
    return { range, fresh, reply };
  }
}
