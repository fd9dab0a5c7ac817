import { setTimeout as sleep } from 'node:timers/promises';
import {
  BaseRpcContext,
  RpcException,
  Server,
  type CustomTransportStrategy,
  type ReadPacket,
} from '@nestjs/microservices';
import type { Redis } from 'ioredis';
import { isObservable, lastValueFrom } from 'rxjs';

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
  /** A connected client; the transport duplicates it, since a blocking XREAD holds its connection. */
  redis: Redis;
  /** The @EventPattern that receives every read. */
  pattern: string;
  source: StreamCursorSource;
  /** Entries per XREAD. */
  count?: number;
  /** XREAD BLOCK timeout: how often an idle consumer gets an empty event (to check the watermark). */
  blockMs?: number;
  /** Called after every read the handler took without an error (for the health check). */
  onTurn?: () => void;
}

export class RedisStreamsContext extends BaseRpcContext<[StreamCursor]> {
  get cursor(): StreamCursor {
    return this.args[0];
  }
}

type Status = 'connected' | 'disconnected' | 'reconnecting';

/**
 * A Nest microservice transport that tails Redis streams with XREAD and hands each read to an
 * @EventPattern handler, waiting for it before reading on. Handler errors propagate back here:
 * they are logged (at most once per 30 s) and the read is retried from the consumer's committed
 * position after a pause, so a bad moment never crashes or skips anything.
 */
export class RedisStreamsServer
  extends Server<Record<string, never>, Status>
  implements CustomTransportStrategy
{
  override readonly propagatesEventHandlerErrors = true;
  private reader: Redis | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private lastErrorLog = 0;
  private fatal: Error | null = null;

  constructor(private readonly options: RedisStreamsServerOptions) {
    super();
  }

  listen(callback: (...optionalParams: unknown[]) => void): void {
    const reader = this.options.redis.duplicate();
    this.reader = reader;
    reader.on('ready', () => this._status$.next('connected'));
    reader.on('reconnecting', () => this._status$.next('reconnecting'));
    reader.on('end', () => this._status$.next('disconnected'));
    reader.on('error', () => undefined); // reported through failed reads below
    this.loop = this.run(reader);
    callback();
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
    await this.loop;
  }

  /**
   * Runs the handler and waits for it to finish, failing if it failed, so the read loop can back
   * off and retry (Nest's own event handling would log the error and carry on as if it had worked).
   */
  override async handleEvent(
    pattern: string,
    packet: ReadPacket,
    context: BaseRpcContext,
  ): Promise<void> {
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) throw new Error(`No @EventPattern('${pattern}') handler.`);
    const result: unknown = await handler(packet.data, context);
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }

  on(): void {
    throw new Error('RedisStreamsServer reports its status through the `status` observable.');
  }

  unwrap<T>(): T {
    if (!this.reader) throw new Error('Not listening yet.');
    return this.reader as T;
  }

  private async run(reader: Redis): Promise<void> {
    const { pattern, source, count = 10_000, blockMs = 1_000, onTurn } = this.options;
    const read = async (cursor: StreamCursor, block: boolean): Promise<StreamReadEvent> => {
      // Nothing to read for now (the consumer says so): an idle turn, as if a read timed out.
      if (cursor.length === 0) {
        await sleep(blockMs);
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
        onTurn?.();
      } catch (error) {
        if (this.stopping) break;
        const fatal = fatalCause(error);
        if (fatal) {
          this.fatal = fatal;
          break;
        }
        this.reportError(error as Error);
        source.failed?.(error as Error);
        await sleep(500);
      }
    }
  }

  private reportError(error: Error): void {
    if (Date.now() - this.lastErrorLog < 30_000) return;
    this.lastErrorLog = Date.now();
    this.logger.error(
      `Reading or handling failed; retrying from the committed position: ${error.message}`,
    );
  }
}

/**
 * Runs a stream handler's work so that a failure reaches the transport (which retries and reports
 * it) as the error itself, without Nest's exception filter logging it on every attempt.
 */
export async function handOver(work: Promise<void>): Promise<void> {
  try {
    await work;
  } catch (error) {
    throw new RpcException(error as Error);
  }
}

/** The error a handler threw to end the consumer (`fatal: true`), unwrapped from Nest's RpcException. */
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
