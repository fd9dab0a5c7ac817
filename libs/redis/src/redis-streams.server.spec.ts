import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import { ReplyError, type Redis } from 'ioredis';
import {
  RedisStreamsServer,
  StreamEventPattern,
  type RedisStreamsContext,
  type StreamCursor,
  type StreamReadEvent,
} from './redis-streams.server';

const PATTERN = 'reads';

/** `a-b` stream IDs in order. */
function after(id: string, afterId: string): boolean {
  const [ms, seq] = id.split('-').map(BigInt);
  const [afterMs, afterSeq] = afterId.split('-').map(BigInt);
  return ms > afterMs || (ms === afterMs && seq > afterSeq);
}

/**
 * The reader connection, faked: XREAD (COUNT, BLOCK, STREAMS) over streams held in memory. A
 * blocking read with nothing new waits until entries are added or the connection is closed.
 */
class FakeReader extends EventEmitter {
  readonly streams = new Map<string, string[]>();
  /** Every XREAD: the position it read after (one stream) and whether it blocked. */
  readonly reads: { afterId: string; block: boolean }[] = [];
  connectError: Error | null = null;
  connectPending = false;
  disconnected = false;
  private wake: (() => void)[] = [];
  private closed: ((error: Error) => void)[] = [];

  add(stream: string, ...ids: string[]): void {
    this.streams.set(stream, [...(this.streams.get(stream) ?? []), ...ids]);
    this.wake.splice(0).forEach((wake) => wake());
  }

  connect(): Promise<void> {
    if (this.connectError) return Promise.reject(this.connectError);
    if (this.connectPending) {
      return new Promise((_, reject) => this.closed.push(reject));
    }
    this.emit('ready');
    return Promise.resolve();
  }

  async xreadBuffer(...args: (string | number)[]) {
    const count = Number(args[args.indexOf('COUNT') + 1]);
    const block = args.includes('BLOCK');
    const keys = args.slice(args.indexOf('STREAMS') + 1).map(String);
    const cursor = keys.slice(0, keys.length / 2).map((s, i) => [s, keys[keys.length / 2 + i]]);
    this.reads.push({ afterId: cursor[0][1], block });
    await new Promise((resolve) => setImmediate(resolve)); // a reply comes in a later I/O turn
    for (;;) {
      if (this.disconnected) throw new Error('Connection is closed.');
      const reply = cursor
        .map(([stream, afterId]) => {
          const ids = (this.streams.get(stream) ?? []).filter((id) => after(id, afterId));
          const entries = ids
            .slice(0, count)
            .map((id): [Buffer, Buffer[]] => [
              Buffer.from(id),
              [Buffer.from('v'), Buffer.from(id)],
            ]);
          return [Buffer.from(stream), entries] as [Buffer, [Buffer, Buffer[]][]];
        })
        .filter(([, entries]) => entries.length > 0);
      if (reply.length > 0 || !block) return reply.length > 0 ? reply : null;
      await new Promise<void>((resolve, reject) => {
        this.wake.push(resolve);
        this.closed.push(reject);
      });
    }
  }

  disconnect(): void {
    this.disconnected = true;
    this.closed.splice(0).forEach((reject) => reject(new Error('Connection is closed.')));
    this.emit('end');
  }
}

class FakeRedis {
  readonly reader = new FakeReader();
  duplicate(): FakeReader {
    return this.reader;
  }
}

/** A consumer that holds its position in memory, for one stream `s`. */
class Consumer {
  position = '0-0';
  readonly failed = jest.fn<void, [Error]>();
  cursor(): StreamCursor {
    return [['s', this.position]];
  }
}

interface Handled {
  ids: string[];
  cursor: StreamCursor;
}

function idsOf(event: StreamReadEvent): string[] {
  return event.reads.flatMap(({ entries }) => entries.map(([id]) => id));
}

/** Every transport a test made: closed after it, so a test that failed leaves no loop running. */
const servers: RedisStreamsServer[] = [];

function transport(count = 10, onTurn?: () => void, onBlocked?: (reason: string) => void) {
  const redis = new FakeRedis();
  const consumer = new Consumer();
  const server = new RedisStreamsServer({
    redis: redis as unknown as Redis,
    pattern: PATTERN,
    source: consumer,
    count,
    blockMs: 10,
    onTurn,
    onBlocked,
    backoff: { firstMs: 20, maxMs: 40 },
  });
  servers.push(server);
  const listen = () =>
    new Promise<void>((resolve, reject) =>
      server.listen((error) => (error ? reject(error) : resolve())),
    );
  return { server, reader: redis.reader, consumer, listen };
}

/** Registers `handle` for the transport's pattern (as Nest does for an @EventPattern) and records each call. */
function handleWith(
  server: RedisStreamsServer,
  handle: (event: StreamReadEvent, context: RedisStreamsContext) => Promise<void> | void,
): Handled[] {
  const handled: Handled[] = [];
  server.addHandler(
    PATTERN,
    async (event: StreamReadEvent, context: RedisStreamsContext) => {
      handled.push({ ids: idsOf(event), cursor: context.cursor });
      await handle(event, context);
    },
    true,
  );
  return handled;
}

/** Commits everything read. */
const commitAll = (consumer: Consumer) => (event: StreamReadEvent) => {
  const ids = idsOf(event);
  if (ids.length > 0) consumer.position = ids[ids.length - 1];
};

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

let logged: jest.SpyInstance;
beforeEach(() => {
  logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  jest.restoreAllMocks();
});

describe('RedisStreamsServer read loop', () => {
  it('hands the handler each read with the cursor it was read from', async () => {
    const { server, reader, consumer, listen } = transport();
    reader.add('s', '1-0', '2-0');
    const handled = handleWith(server, commitAll(consumer));
    await listen();
    await until(() => reader.reads.length === 2);
    expect(handled).toEqual([{ ids: ['1-0', '2-0'], cursor: [['s', '0-0']] }]);
    // Then it waits for more, from the committed position.
    expect(reader.reads[1]).toEqual({ afterId: '2-0', block: true });
    reader.add('s', '3-0');
    await until(() => handled.length === 2);
    expect(handled[1]).toEqual({ ids: ['3-0'], cursor: [['s', '2-0']] });
    await server.close();
    await expect(server.finished).resolves.toBeUndefined();
  });

  it('reads ahead after a full batch, and uses that read when the consumer committed the whole batch', async () => {
    const { server, reader, consumer, listen } = transport(2);
    reader.add('s', '1-0', '2-0', '3-0', '4-0', '5-0');
    const handled = handleWith(server, commitAll(consumer));
    await listen();
    await until(() => reader.reads.length === 4);
    await server.close();
    expect(handled.map(({ ids }) => ids)).toEqual([['1-0', '2-0'], ['3-0', '4-0'], ['5-0']]);
    expect(reader.reads).toEqual([
      { afterId: '0-0', block: true },
      { afterId: '2-0', block: false }, // sent while the first batch was handled
      { afterId: '4-0', block: false },
      { afterId: '5-0', block: true },
    ]);
  });

  it('discards the read-ahead when the consumer committed less, and reads from its own position', async () => {
    const { server, reader, consumer, listen } = transport(2);
    reader.add('s', '1-0', '2-0', '3-0', '4-0', '5-0');
    // Commits only the first entry of every read.
    const handled = handleWith(server, (event) => {
      consumer.position = idsOf(event)[0];
    });
    await listen();
    await until(() => handled.length >= 3);
    await server.close();
    expect(handled.slice(0, 3)).toEqual([
      { ids: ['1-0', '2-0'], cursor: [['s', '0-0']] },
      { ids: ['2-0', '3-0'], cursor: [['s', '1-0']] },
      { ids: ['3-0', '4-0'], cursor: [['s', '2-0']] },
    ]);
  });

  it('after a handler failure tells the consumer and reads the same position again, logging it once', async () => {
    const { server, reader, consumer, listen } = transport();
    reader.add('s', '1-0', '2-0');
    const failures = [new Error('boom'), new Error('boom again')];
    const handled = handleWith(server, (event) => {
      const failure = failures.shift();
      if (failure) throw failure;
      commitAll(consumer)(event);
    });
    await listen();
    await until(() => handled.length === 3);
    await server.close();
    expect(consumer.failed.mock.calls.map(([error]) => error.message)).toEqual([
      'boom',
      'boom again',
    ]);
    expect(handled).toEqual([
      { ids: ['1-0', '2-0'], cursor: [['s', '0-0']] },
      { ids: ['1-0', '2-0'], cursor: [['s', '0-0']] },
      { ids: ['1-0', '2-0'], cursor: [['s', '0-0']] },
    ]);
    expect(consumer.position).toBe('2-0');
    expect(logged.mock.calls).toEqual([
      ['Reading or handling failed; retrying from the committed position: boom'],
    ]);
  });

  it('a refusal that clears by itself (MISCONF, BUSY, READONLY): reports the reason, one line, backs off, reads the same position again, never ends', async () => {
    const blocked: string[] = [];
    const turns: number[] = [];
    const { server, reader, consumer, listen } = transport(
      10,
      () => turns.push(Date.now()),
      (r) => blocked.push(r),
    );
    const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const said = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    reader.add('s', '1-0');
    const refusals = [
      'MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk. Commands are disabled.',
      "READONLY You can't write against a read only replica. script: 936969dfe385d20f018c3af5fd07dec55ad3cb84, on @user_script:1.",
      'MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk. Commands are disabled.',
      'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
    ];
    const times: number[] = [];
    const handled = handleWith(server, (event) => {
      times.push(Date.now());
      const refusal = refusals.shift();
      if (refusal) throw new ReplyError(refusal);
      commitAll(consumer)(event);
    });
    await listen();
    await until(() => consumer.position === '1-0');
    expect(handled.map(({ ids, cursor }) => [ids, cursor])).toEqual(
      Array.from({ length: 5 }, () => [['1-0'], [['s', '0-0']]]),
    );
    expect(blocked).toEqual([
      'Redis refuses writes: it cannot persist to disk (MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk.)',
      "Redis refuses writes: it is a read-only replica (a failover?) (READONLY You can't write against a read only replica.)",
      'Redis refuses writes: it cannot persist to disk (MISCONF Redis is configured to save RDB snapshots, but it is currently unable to persist to disk.)',
      "Redis is busy running another client's script (BUSY Redis is busy running a script.)",
    ]);
    // One line per kind while it lasts, none as a failure; one when it clears.
    expect(warned.mock.calls.map(([line]) => String(line).split(' (')[0])).toEqual([
      'Redis refuses writes: it cannot persist to disk',
      'Redis refuses writes: it is a read-only replica',
      "Redis is busy running another client's script",
    ]);
    expect(logged).not.toHaveBeenCalled();
    expect(
      said.mock.calls.filter(([l]) => String(l).startsWith('Redis accepts the work again')),
    ).toHaveLength(1);
    // Waits of 20, 40, 40, 40 ms between attempts (the back-off, capped).
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(gaps.slice(0, 2).map((g) => g >= 19)).toEqual([true, true]);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(consumer.failed).toHaveBeenCalledTimes(4);
    expect(turns.length).toBeGreaterThan(0);
    await server.close();
    await expect(server.finished).resolves.toBeUndefined();
  });

  it('ends `finished` with a fatal error, without retrying it', async () => {
    const { server, reader, consumer, listen } = transport();
    reader.add('s', '1-0');
    const fatal = Object.assign(new Error('state lost'), { fatal: true });
    const handled = handleWith(server, () => {
      throw fatal;
    });
    await listen();
    await expect(server.finished).rejects.toBe(fatal);
    expect(handled).toHaveLength(1);
    expect(consumer.failed).not.toHaveBeenCalled();
  });

  it('runs the handler between the processing hooks, and waits for it before the turn ends', async () => {
    const calls: string[] = [];
    const { server, reader, consumer, listen } = transport(10, () => calls.push('turn'));
    reader.add('s', '1-0');
    reader.add('s', '2-0');
    const contexts: unknown[] = [];
    // A start hook need not return `done()`'s promise: the read still waits for the handler.
    server.setOnProcessingStartHook((_transport, context, done) => {
      contexts.push(context);
      calls.push('start');
      void done();
    });
    server.setOnProcessingEndHook(() => calls.push('end'));
    let fail = true;
    const handled = handleWith(server, async (event) => {
      await sleep(20);
      calls.push('handler');
      if (fail) {
        fail = false;
        throw new Error('once');
      }
      commitAll(consumer)(event);
    });
    await listen();
    await until(() => calls.includes('turn'));
    await server.close();
    // The failed attempt closes its span once too, and is not a turn.
    expect(calls).toEqual(['start', 'handler', 'end', 'start', 'handler', 'end', 'turn']);
    expect(contexts.map((context) => (context as RedisStreamsContext).cursor)).toEqual([
      [['s', '0-0']],
      [['s', '0-0']],
    ]);
    expect(handled).toHaveLength(2);
  });
});

describe('RedisStreamsServer connection', () => {
  it('close() ends a blocking read at once, without reporting a disconnection', async () => {
    const { server, reader, listen } = transport();
    handleWith(server, () => undefined);
    const statuses: string[] = [];
    server.status.subscribe((status) => statuses.push(status));
    await listen();
    await until(() => reader.reads.length === 1);
    const started = Date.now();
    await server.close();
    await expect(server.finished).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(500);
    await sleep(10);
    expect(reader.disconnected).toBe(true);
    expect(statuses).toEqual(['connected']);
  });

  it('reports an unexpected end of the connection as disconnected', async () => {
    const { server, reader, listen } = transport();
    handleWith(server, () => undefined);
    const statuses: string[] = [];
    server.status.subscribe((status) => statuses.push(status));
    await listen();
    reader.emit('reconnecting');
    reader.emit('end');
    expect(statuses).toEqual(['connected', 'reconnecting', 'disconnected']);
    await server.close();
  });

  it('on() forwards the reader connection events, registered before or after listen(); unwrap() returns it', async () => {
    const { server, reader, listen } = transport();
    handleWith(server, () => undefined);
    expect(() => server.unwrap()).toThrow('Not listening yet.');
    const ready = jest.fn();
    const errors = jest.fn();
    server.on('ready', ready);
    await listen();
    server.on('error', errors);
    const error = new Error('ECONNRESET');
    reader.emit('error', error);
    expect(ready).toHaveBeenCalledTimes(1);
    expect(errors).toHaveBeenCalledWith(error);
    expect(server.unwrap<FakeReader>()).toBe(reader);
    await server.close();
  });

  it('listen() reports a failed first connection through its callback, and reads nothing', async () => {
    const { server, reader, listen } = transport();
    handleWith(server, () => undefined);
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:1');
    reader.connectError = refused;
    await expect(listen()).rejects.toBe(refused);
    expect(reader.disconnected).toBe(true);
    expect(reader.reads).toEqual([]);
    await expect(server.finished).resolves.toBeUndefined();
  });

  it('listen() calls back without an error when closed before the connection was ready', async () => {
    const { server, reader, listen } = transport();
    handleWith(server, () => undefined);
    reader.connectPending = true;
    const listening = listen();
    await server.close();
    await expect(listening).resolves.toBeUndefined();
    expect(reader.reads).toEqual([]);
  });
});

// The handler as Nest calls it: through its exception filters and the microservice's proxy.
let work: (event: StreamReadEvent) => Promise<void> = async () => undefined;

@Controller()
class ReadsController {
  @StreamEventPattern(PATTERN)
  handle(@Payload() event: StreamReadEvent): Promise<void> {
    return work(event);
  }
}

@Module({ controllers: [ReadsController] })
class ReadsModule {}

describe('RedisStreamsServer in a Nest microservice', () => {
  async function microservice(handle: (consumer: Consumer) => typeof work) {
    const parts = transport();
    parts.reader.add('s', '1-0');
    work = handle(parts.consumer);
    const app = await NestFactory.createMicroservice(ReadsModule, {
      strategy: parts.server,
      logger: false,
    });
    await app.listen();
    return { ...parts, app };
  }

  it("hands the controller's error to the transport as thrown, and Nest does not log it", async () => {
    const failure = new Error('commit failed');
    let attempts = 0;
    const { app, consumer } = await microservice((consumer) => async (event) => {
      attempts += 1;
      if (attempts === 1) throw failure;
      commitAll(consumer)(event);
    });
    await until(() => consumer.position === '1-0');
    await app.close();
    expect(consumer.failed.mock.calls).toEqual([[failure]]);
    const nestLogs = logged.mock.contexts.filter(
      (logger) => (logger as { context?: string }).context === 'RpcExceptionsHandler',
    );
    expect(nestLogs).toEqual([]);
  });

  it("ends the consumer with a controller's fatal error", async () => {
    const fatal = Object.assign(new Error('state lost'), { fatal: true });
    const { app, server } = await microservice(() => () => Promise.reject(fatal));
    await expect(server.finished).rejects.toBe(fatal);
    await app.close();
  });
});
