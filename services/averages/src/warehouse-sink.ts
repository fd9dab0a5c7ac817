import { ThrottledLogger } from '@temps/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DependencyChecks } from '@temps/health';
import { AVERAGES_STREAM, compareEntryIds } from '@temps/streams';
import {
  averageToRow,
  START_POSITION,
  UnstorableError,
  Warehouse,
  WarehouseError,
  classifyWarehouseError,
  type HourlyRow,
  type SetAsideEntry,
  type WarehousePosition,
} from '@temps/warehouse';
import { AveragesMetrics } from './averages.metrics';
import { AveragesRepository } from './averages.repository';
import { AveragesService } from './averages.service';

/** Entries read from temps:averages and stored per transaction. */
const BATCH = 5_000;
const IDLE_POLL_MS = 500;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;
/** While there is nothing to store, the warehouse is still asked this often whether it answers. */
const PING_EVERY_MS = 5_000;

/**
 * One entry of a step and where the position is after it: a row to store, an entry to set aside
 * (it can never be stored), or neither (not an hourly average: the reader reports those).
 */
interface Item {
  id: string;
  fields: string[];
  row: HourlyRow | null;
  setAside: SetAsideEntry | null;
  /** Averages trimmed from the stream between the one before and this one. */
  missedBefore: number;
  after: WarehousePosition;
}

/** Reading temps:averages failed: Redis's fault, which /health reports already, not the warehouse's. */
class SourceReadError extends Error {
  override name = 'SourceReadError';
}

/**
 * Copies every hourly average from temps:averages into the warehouse, exactly once: it reads
 * after its own position, which the warehouse keeps in the same transaction as the rows (a crash
 * either stored both or neither), and an hour is the table's key (a replayed hour stays one row).
 * It runs beside the printing reader, so the console never waits for the warehouse; while the
 * warehouse fails it retries with back-off (0.5 s doubling to 10 s) and /health reports it.
 */
@Injectable()
export class WarehouseSink implements OnModuleInit {
  private readonly logger = new Logger('Warehouse');
  /** One line per cause, repeated at most every 30 s while it lasts. */
  private readonly failureLog = new ThrottledLogger(this.logger);
  private position: WarehousePosition | null = null;
  /** The last `seq` known stored; kept across failures, for the lag. */
  private storedSeq: number | null = null;
  private failure: WarehouseError | null = new WarehouseError('unreachable', 'not connected yet');
  private failures = 0;
  /** When the warehouse last answered a call (for the idle ping). */
  private lastAnswer = 0;
  private readonly stopping = new AbortController();

  constructor(
    private readonly warehouse: Warehouse,
    private readonly repository: AveragesRepository,
    private readonly reader: AveragesService,
    private readonly metrics: AveragesMetrics,
    @Inject(DependencyChecks) private readonly checks: DependencyChecks,
  ) {}

  onModuleInit(): void {
    this.checks.register('warehouse', () => {
      if (this.failure) throw new Error(this.failure.message);
    });
    this.metrics.warehouseLagSource = () => {
      // Unknown until both seqs are (a reader resuming from the exercise's own state).
      const readSeq = this.reader.lastSeq();
      return this.storedSeq === null || readSeq === null
        ? null
        : Math.max(0, readSeq - this.storedSeq);
    };
  }

  /** Runs until stop(); never throws for a warehouse or Redis failure (it retries). */
  async run(): Promise<void> {
    this.logger.log(`Storing hourly averages in ${this.warehouse.where}`);
    try {
      while (!this.stopping.signal.aborted) {
        let idle: boolean;
        try {
          idle = await this.step();
          this.recovered();
        } catch (error) {
          this.failed(error);
          await this.pause(Math.min(FIRST_RETRY_MS * 2 ** (this.failures - 1), MAX_RETRY_MS));
          continue;
        }
        if (idle) await this.pause(IDLE_POLL_MS);
      }
    } finally {
      await this.warehouse.close();
    }
  }

  stop(): void {
    this.stopping.abort();
  }

  /** One read-and-store step; true when there was nothing to store. */
  private async step(): Promise<boolean> {
    if (this.position === null) {
      await this.warehouse.migrate();
      this.position = await this.warehouse.position(AVERAGES_STREAM);
      this.storedSeq = this.position.lastSeq;
      this.lastAnswer = Date.now();
    }
    const from = this.position;
    const entries = await this.fromRedis(() => this.repository.range(from.lastId, BATCH));
    if (entries.length === 0) {
      await this.followReset(from);
      if (Date.now() - this.lastAnswer >= PING_EVERY_MS) {
        await this.warehouse.ping();
        this.lastAnswer = Date.now();
      }
      return true;
    }
    const items: Item[] = [];
    let lastSeq = from.lastSeq;
    let averages = 0;
    for (const [id, fields] of entries) {
      const average = averageToRow(fields);
      let missedBefore = 0;
      // Averages without `seq` (the exercise's own format) are stored by hour; they cannot say
      // what was trimmed or whether the stream began again.
      if (average && average.seq !== null) {
        if (average.seq <= from.lastSeq && averages === 0) {
          // Numbering began again after the position: the stream was emptied and refilled.
          await this.beginAgain(from);
          return false;
        }
        if (average.seq > lastSeq + 1) missedBefore = average.seq - lastSeq - 1;
        lastSeq = Math.max(lastSeq, average.seq);
      }
      if (average) averages++;
      items.push({
        id,
        fields,
        row: average && 'row' in average ? average.row : null,
        // The shared rule (averageProblem) says it can never be stored; the reader skips it too.
        setAside: average && 'problem' in average ? { id, fields, reason: average.problem } : null,
        missedBefore,
        after: { lastId: id, lastSeq },
      });
    }
    await this.storeItems(from, items);
    return false;
  }

  /**
   * Stores `items` from `from` in one transaction. When the database refuses the data of one of
   * them (UnstorableError: a value out of range, …), the items are stored in halves, down to the
   * one it refuses, which is set aside with the database's reason (in the same transaction as the
   * position that moves past it), and the sink goes on with the next: nothing after it waits.
   */
  private async storeItems(from: WarehousePosition, items: Item[]): Promise<WarehousePosition> {
    const to = items[items.length - 1].after;
    const rows = items.flatMap((item) => (item.row ? [item.row] : []));
    const setAside = items.flatMap((item) => (item.setAside ? [item.setAside] : []));
    try {
      await this.warehouse.store(AVERAGES_STREAM, from, to, rows, setAside);
    } catch (error) {
      if (!(error instanceof UnstorableError) || rows.length === 0) throw error;
      if (items.length > 1) {
        const half = Math.ceil(items.length / 2);
        const middle = await this.storeItems(from, items.slice(0, half));
        return this.storeItems(middle, items.slice(half));
      }
      const [item] = items;
      const refused = { id: item.id, fields: item.fields, reason: error.detail };
      await this.warehouse.store(AVERAGES_STREAM, from, to, [], [refused]);
      this.stored(items, to, 0, [refused]);
      return to;
    }
    this.stored(items, to, rows.length, setAside);
    return to;
  }

  /** Bookkeeping once a step's transaction is committed. */
  private stored(
    items: Item[],
    to: WarehousePosition,
    rows: number,
    setAside: readonly SetAsideEntry[],
  ): void {
    this.position = to;
    this.storedSeq = to.lastSeq;
    this.lastAnswer = Date.now();
    this.metrics.warehouseRows.inc(rows);
    this.metrics.warehouseSetAside.inc(setAside.length);
    for (const entry of setAside) {
      this.logger.warn(
        `Set aside ${AVERAGES_STREAM} entry ${entry.id}: ${entry.reason}; it is kept in set_aside_averages and the warehouse goes on with the next.`,
      );
    }
    const missed = items.reduce((sum, item) => sum + item.missedBefore, 0);
    if (missed > 0) {
      this.metrics.warehouseMissed.inc(missed);
      this.logger.warn(
        `Missed ${missed} hourly average${missed === 1 ? '' : 's'} for the warehouse: trimmed from ${AVERAGES_STREAM} (MAXLEN) before they were stored.`,
      );
    }
  }

  /**
   * temps:averages was emptied and begun again (the consumers restarted from a partition, or a
   * new Redis): its IDs are now below the position, or its `seq` numbers run again from 1. Start
   * over from its beginning; an hour stored before is overwritten by its new value, never doubled.
   */
  private async followReset(from: WarehousePosition): Promise<void> {
    if (from.lastId === START_POSITION.lastId) return;
    const last = await this.fromRedis(() => this.repository.lastGeneratedId());
    if (last !== null && compareEntryIds(last, from.lastId) >= 0) return;
    await this.beginAgain(from);
  }

  private async beginAgain(from: WarehousePosition): Promise<void> {
    this.logger.warn(`${AVERAGES_STREAM} was begun again; storing it from its start.`);
    await this.warehouse.store(AVERAGES_STREAM, from, START_POSITION, []);
    this.position = START_POSITION;
    this.storedSeq = 0;
  }

  private async fromRedis<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      throw new SourceReadError(`reading ${AVERAGES_STREAM} failed (${(error as Error).message})`);
    }
  }

  private recovered(): void {
    if (this.failure && this.failures > 0) {
      this.logger.log(`Warehouse ${this.warehouse.where} is usable again.`);
      this.failureLog.reset(); // a new failure is news, even if it looks like the last one
    }
    this.failure = null;
    this.failures = 0;
    this.metrics.warehouseUp.set(1);
  }

  private failed(error: unknown): void {
    this.failures++;
    if (error instanceof SourceReadError) {
      this.failureLog.error(`Warehouse: ${error.message}; retrying`);
      return;
    }
    const failure =
      error instanceof WarehouseError ? error : classifyWarehouseError(error, this.warehouse.where);
    // Reload the position next time: a commit whose reply was lost may have moved it.
    this.position = null;
    this.failure = failure;
    this.metrics.warehouseUp.set(0);
    this.metrics.warehouseErrors.inc({ reason: failure.reason });
    this.failureLog.error(`${failure.message}; retrying`);
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }
}
