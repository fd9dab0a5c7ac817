import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, type INestApplication, type INestApplicationContext } from '@nestjs/common';
import { Heartbeat } from '@temps/health';
import {
  REDIS_CLIENT,
  RedisStreamsServer,
  TransientRetry,
  transientCause,
  type StreamCursorSource,
} from '@temps/redis';
import type { Worker } from './run-service';

export interface StreamConsumer extends StreamCursorSource {
  /** Loads or resets the consumer's position before the first read. */
  start(): Promise<void>;
}

/**
 * Makes a hybrid application of a stream consumer: the Redis Streams transport is connected as a
 * Nest microservice feeding `pattern`'s handler (`@StreamEventPattern(pattern)`), with the consumer
 * as its cursor. A refusal that clears by itself (MISCONF, BUSY, READONLY…), at start or in the
 * read loop, makes /health answer 503 with its reason until the work goes through again; it never
 * ends the process.
 */
export function streamConsumerWorker(
  context: INestApplicationContext,
  options: { pattern: string; consumer: StreamConsumer; count?: number },
): Worker {
  const app = context as INestApplication;
  const heartbeat = app.get(Heartbeat);
  const transport = new RedisStreamsServer({
    redis: app.get(REDIS_CLIENT),
    pattern: options.pattern,
    source: options.consumer,
    count: options.count,
    onTurn: () => heartbeat.beat(),
    onBlocked: (reason) => heartbeat.blocked(reason),
  });
  app.connectMicroservice({ strategy: transport });
  let stopped = false;
  return {
    run: async () => {
      await startThroughTransient(options.consumer, heartbeat, () => stopped);
      if (stopped) return;
      await app.startAllMicroservices();
      await transport.finished;
    },
    stop: () => {
      stopped = true;
      void transport.close();
    },
  };
}

/**
 * The consumer's start (loading or resetting its position), tried again with back-off while Redis
 * refuses for a while: a refused start wrote nothing, so trying it again is safe.
 */
async function startThroughTransient(
  consumer: StreamConsumer,
  heartbeat: Heartbeat,
  stopped: () => boolean,
): Promise<void> {
  const retry = new TransientRetry(new Logger('Consumer'));
  for (;;) {
    try {
      await consumer.start();
      retry.succeeded();
      return;
    } catch (error) {
      const transient = transientCause(error);
      if (!transient || stopped()) throw error;
      heartbeat.blocked(transient.reason);
      const until = Date.now() + retry.refused(transient);
      while (Date.now() < until && !stopped()) await sleep(100);
      if (stopped()) return;
    }
  }
}
