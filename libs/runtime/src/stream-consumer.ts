import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { Heartbeat } from '@temps/health';
import { RedisStreamsServer, type StreamCursorSource } from '@temps/redis';
import { Redis } from 'ioredis';
import type { Worker } from './run-service';

export interface StreamConsumer extends StreamCursorSource {
  /** Loads or resets the consumer's position before the first read. */
  start(): Promise<void>;
}

/**
 * Makes a hybrid application of a stream consumer: the Redis Streams transport is connected as a
 * Nest microservice feeding `pattern`'s handler (`@StreamEventPattern(pattern)`), with the consumer
 * as its cursor.
 */
export function streamConsumerWorker(
  context: INestApplicationContext,
  options: { pattern: string; consumer: StreamConsumer; count?: number },
): Worker {
  const app = context as INestApplication;
  const heartbeat = app.get(Heartbeat);
  const transport = new RedisStreamsServer({
    redis: app.get(Redis),
    pattern: options.pattern,
    source: options.consumer,
    count: options.count,
    onTurn: () => heartbeat.beat(),
  });
  app.connectMicroservice({ strategy: transport });
  return {
    run: async () => {
      await options.consumer.start();
      await app.startAllMicroservices();
      await transport.finished;
    },
    stop: () => void transport.close(),
  };
}
