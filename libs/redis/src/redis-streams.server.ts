import { ThrottledLogger } from '@temps/common';
import { COMMAND_TIMEOUT_MS } from './redis-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyDecorators, Catch, UseFilters, type RpcExceptionFilter } from '@nestjs/common';
import {
  BaseRpcContext,
  EventPattern,
  RpcException,
  Server,
  type CustomTransportStrategy,
  type ReadPacket,
} from '@nestjs/microservices';
import { isCluster, type RedisClient } from './redis-client';
import { SlotWaker } from './slot-waker';
import { slotOf } from '@temps/streams';
import { finalize, lastValueFrom, throwError, type Observable } from 'rxjs';
import { TransientRetry, transientCause } from './transient-errors';

/** An entry: its ID as text, its fields as raw bytes (decoding every field to text would cost more
 * than the rest of a consumer's work; consumers decode what they use). */
export type StreamEntry = [id: string, fields: Buffer[]];

/** One XREAD's worth of entries, per stream. Empty when the read timed out with nothing new. */
export interface StreamReadEvent {
  reads: { stream: string; entries: StreamEntry[] }[];
}

/** Where to read next: each stream with the ID after which to read (XREAD semantics). */
export type StreamCursor = [stream: string, afterId: string][];

/**
 * The consumer owns its position: the transport asks for it before every read, so a handler that
 * failed (nothing committed) is simply given the same entries again.
 */
export interface StreamCursorSource {
  cursor(): StreamCursor | Promise<StreamCursor>;
  /** Told when a read or its handling failed, before the same position is tried again. */
  failed?(error: Error): void;
}

export interface RedisStreamsServerOptions {
  /**
   * A connected client; the transport duplicates it, since a blocking XREAD holds its connection.
   * On a cluster, a cursor whose streams span slots cannot be one XREAD: the read then only waits
   * for new entries (SlotWaker) and hands the handler an empty event — such a consumer must read
   * what it needs itself.
   */
  redis: RedisClient;
  /** The @EventPattern that receives every read. */
  pattern: string;
  source: StreamCursorSource;
  /** Entries per XREAD. */
  count?: number;
  /** XREAD BLOCK timeout: how often an idle consumer gets an empty event (to check the watermark). */
  blockMs?: number;
  /** Called after every read the handler took without an error (for the health check). */
  onTurn?: () => void;
  /**
   * Called while Redis refuses for a while (MISCONF, BUSY, READONLY…: TransientCode), with the
   * reason, before the same position is tried again after a back-off (for the health check).
   */
  onBlocked?: (reason: string) => void;
  /** The back-off after such a refusal: the first wait and the longest (ms; 1 s and 10 s). */
  backoff?: { firstMs: number; maxMs: number };
}

export class RedisStreamsContext extends BaseRpcContext<[StreamCursor]> {
  get cursor(): StreamCursor {
    return this.args[0];
  }
}

type Status = 'connected' | 'disconnected' | 'reconnecting';

/** Listeners of the reader connection's events (ioredis: 'ready', 'error', 'reconnecting', 'end'...). */
type ReaderEvents = Record<string, (...args: unknown[]) => void>;

/**
 * Hands a stream handler's error to the transport as it was thrown (`@StreamEventPattern` installs
 * it): Nest's default filter would log every failed attempt and replace the error with "Internal
 * server error", so the transport could neither throttle the report nor see `fatal`.
 */
@Catch()
export class StreamHandlerErrorFilter implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * `@EventPattern(pattern)` for a handler fed by `RedisStreamsServer`, with `StreamHandlerErrorFilter`:
 * the handler's failure reaches the transport unchanged, which retries it from the consumer's
 * committed position (or ends the consumer, for an error with `fatal: true`) and reports it.
 */
export function StreamEventPattern(pattern: string): MethodDecorator {
  return applyDecorators(EventPattern<string>(pattern), UseFilters(StreamHandlerErrorFilter));
}

/**
 * A Nest microservice transport that tails Redis streams with XREAD and hands each read to an
 * @EventPattern handler, waiting for it before reading on. Handler errors propagate back here (with
 * `StreamHandlerErrorFilter` installed, as the error thrown): they are logged (at most once per
 * 30 s) and the read is retried from the consumer's committed position after a pause, so a bad
 * moment never crashes or skips anything. A refusal that clears by itself (RedisTransientError:
 * MISCONF, BUSY, READONLY…) is reported to `onBlocked` with its reason and retried with back-off
 * (1 s doubling to 10 s); it never ends the consumer.
 */
export class RedisStreamsServer
  extends Server<ReaderEvents, Status>
  implements CustomTransportStrategy
{
  /** The read loop awaits every handler and reports its failure itself; Nest must not log it too. */
  override readonly propagatesEventHandlerErrors = true;
  private reader: RedisClient | null = null;
  private waker: SlotWaker | null = null;
  private pendingListeners: { event: string; callback: (...args: unknown[]) => void }[] = [];
  private loop: Promise<void> | null = null;
  private stopping = false;
  /** A failing read or handler is retried every 500 ms: one line per 30 s while it lasts. */
  private readonly errorLog = new ThrottledLogger(this.logger);
  /** Redis refusing for a while: one line, back-off 1 s → 10 s, one line when it clears. */
  private readonly transient: TransientRetry;
  private fatal: Error | null = null;

  constructor(private readonly options: RedisStreamsServerOptions) {
    super();
    this.transient = new TransientRetry(this.logger, options.backoff);
  }

  /**
   * Opens the reader connection and starts reading once it is ready. Calls back with the error if
   * that connection cannot be made (the first attempt fails), and with nothing once reading (or if
   * closed before the connection was ready).
   */
  listen(callback: (error?: unknown) => void): void {
    let reader: RedisClient;
    try {
      // A blocking read waits up to its block time before any answer: that on top of the deadline.
      const blockMs = this.options.blockMs ?? 1_000;
      const commandTimeout = blockMs + COMMAND_TIMEOUT_MS;
      const { redis } = this.options;
      if (isCluster(redis)) {
        reader = redis.duplicate([], {
          lazyConnect: true,
          redisOptions: { ...redis.options.redisOptions, commandTimeout },
        });
        this.waker = new SlotWaker(redis, blockMs);
      } else {
        reader = redis.duplicate({ lazyConnect: true, commandTimeout });
      }
    } catch (error) {
      return callback(error);
    }
    this.reader = reader;
    reader.on('ready', () => this._status$.next('connected'));
    // A deliberate close ends the connection too; only an unexpected end is news.
    reader.on('reconnecting', () => {
      if (!this.stopping) this._status$.next('reconnecting');
    });
    reader.on('end', () => {
      if (!this.stopping) this._status$.next('disconnected');
    });
    reader.on('error', () => undefined); // reported through failed reads below
    this.pendingListeners.forEach(({ event, callback }) => reader.on(event, callback));
    this.pendingListeners = [];
    reader.connect().then(
      () => {
        if (!this.stopping) this.loop = this.run(reader);
        callback();
      },
      (error: unknown) => {
        if (this.stopping) return callback();
        reader.disconnect();
        callback(error);
      },
    );
  }

  /**
   * Resolves when the read loop has ended (after `close()`); rejects with the error of a handler
   * that asked to end the consumer (an error with `fatal: true`).
   */
  get finished(): Promise<void> {
    return (this.loop ?? Promise.resolve()).then(() => {
      if (this.fatal) throw this.fatal;
    });
  }

  async close(): Promise<void> {
    this.stopping = true;
    // Ends a blocking XREAD at once; a read in flight is dropped, so nothing is half-handled.
    this.reader?.disconnect();
    this.waker?.close();
    await this.loop;
  }

  /**
   * Runs the handler between the processing hooks and waits for it (and for the stream it returns)
   * to finish, failing with its error, so the read loop can back off and retry. Nest's own
   * `handleEvent` would not wait, and would carry on as if the handler had worked.
   */
  override handleEvent(
    pattern: string,
    packet: ReadPacket,
    context: BaseRpcContext,
  ): Promise<void> {
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) return Promise.reject(new Error(`No @EventPattern('${pattern}') handler.`));
    return new Promise<void>((resolve, reject) => {
      // The start hook is typed to return nothing, so the outcome is taken from inside it rather
      // than from whatever it returns; a hook that fails fails the read.
      const started: unknown = this.runWithProcessingHooks(context, async (runEndHook) => {
        try {
          const result = this.transformToObservable(await handler(packet.data, context));
          await lastValueFrom(result.pipe(finalize(runEndHook)), { defaultValue: undefined });
          resolve();
        } catch (error) {
          runEndHook();
          reject(error as Error);
        }
      });
      Promise.resolve(started).catch(reject);
    });
  }

  /** Listens to the reader connection's events (as ioredis emits them), from `listen()` on. */
  on(event: string, callback: (...args: unknown[]) => void): void {
    if (this.reader) this.reader.on(event, callback);
    else this.pendingListeners.push({ event, callback });
  }

  /** The reader connection (an ioredis client), once listening. */
  unwrap<T>(): T {
    if (!this.reader) throw new Error('Not listening yet.');
    return this.reader as T;
  }

  private async run(reader: RedisClient): Promise<void> {
    const { pattern, source, count = 10_000, blockMs = 1_000, onTurn, onBlocked } = this.options;
    const read = async (cursor: StreamCursor, block: boolean): Promise<StreamReadEvent> => {
      // Nothing to read for now (the consumer says so): an idle turn, as if a read timed out.
      if (cursor.length === 0) {
        await sleep(blockMs);
        return { reads: [] };
      }
      if (this.waker && new Set(cursor.map(([stream]) => slotOf(stream))).size > 1) {
        if (block) await this.waker.wait(cursor);
        return { reads: [] };
      }
      const streams = [
        ...cursor.map(([stream]) => stream),
        ...cursor.map(([, afterId]) => afterId),
      ];
      const reply = block
        ? await reader.xreadBuffer('COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...streams)
        : await reader.xreadBuffer('COUNT', count, 'STREAMS', ...streams);
      return {
        reads: (reply ?? []).map(([stream, entries]) => ({
          stream: stream.toString(),
          entries: entries.map(([id, fields]): StreamEntry => [id.toString(), fields]),
        })),
      };
    };
    // Read-ahead: after a full batch the next read is sent at once, assuming the handler will commit
    // up to the batch's end; it is used only if the consumer's cursor then says exactly that.
    let ahead: { cursor: StreamCursor; event: Promise<StreamReadEvent> } | null = null;

    while (!this.stopping) {
      try {
        const cursor = await source.cursor();
        const speculative = ahead;
        ahead = null;
        let event: StreamReadEvent;
        if (speculative && sameCursor(speculative.cursor, cursor)) {
          event = await speculative.event;
        } else {
          await speculative?.event.catch(() => undefined);
          event = await read(cursor, true);
        }
        if (this.stopping) break;
        if (event.reads.some(({ entries }) => entries.length >= count)) {
          const next = advance(cursor, event);
          ahead = { cursor: next, event: read(next, false) };
          ahead.event.catch(() => undefined); // awaited (or discarded) on the next turn
        }
        await this.handleEvent(
          pattern,
          { pattern, data: event },
          new RedisStreamsContext([cursor]),
        );
        this.transient.succeeded();
        onTurn?.();
      } catch (error) {
        if (this.stopping) break;
        const fatal = fatalCause(error);
        if (fatal) {
          this.fatal = fatal;
          break;
        }
        source.failed?.(error as Error);
        // A refusal that clears by itself: nothing was committed; the reason goes to /health and
        // one line, and the same position is tried again after a back-off.
        const transient = transientCause(error);
        if (transient) {
          onBlocked?.(transient.reason);
          await this.pause(this.transient.refused(transient));
          continue;
        }
        this.reportError(error as Error);
        await this.pause(500);
      }
    }
  }

  /** Waits `ms`, or less if the transport is closed meanwhile. */
  private async pause(ms: number): Promise<void> {
    const step = 100;
    for (let waited = 0; waited < ms && !this.stopping; waited += step) {
      await sleep(Math.min(step, ms - waited));
    }
  }

  private reportError(error: Error): void {
    this.errorLog.error(
      `Reading or handling failed; retrying from the committed position: ${error.message}`,
      'failed',
    );
  }
}

/** The error a handler threw to end the consumer (`fatal: true`), unwrapped from an RpcException or cause. */
function fatalCause(error: unknown): Error | null {
  for (let e: unknown = error; e;) {
    if ((e as { fatal?: boolean }).fatal === true) return e as Error;
    e = e instanceof RpcException ? e.getError() : (e as { cause?: unknown }).cause;
    if (typeof e !== 'object') return null;
  }
  return null;
}

/** The cursor after consuming everything in `event`: each stream at its last entry read. */
function advance(cursor: StreamCursor, event: StreamReadEvent): StreamCursor {
  return cursor.map(([stream, afterId]) => {
    const entries = event.reads.find((read) => read.stream === stream)?.entries;
    return [stream, entries?.length ? entries[entries.length - 1][0] : afterId];
  });
}

function sameCursor(a: StreamCursor, b: StreamCursor): boolean {
  return (
    a.length === b.length && a.every(([stream, id], i) => stream === b[i][0] && id === b[i][1])
  );
}
