import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Heartbeat } from '@temps/health';
import { RedisStreamsServer } from '@temps/redis';
import { runService } from '@temps/runtime';
import { Redis } from 'ioredis';
import { READINGS_PATTERN } from './aggregator.constants';
import { parseAggregatorConfig } from './aggregator-config';
import { AggregatorModule } from './aggregator.module';
import { AggregatorService, READ_BATCH } from './aggregator.service';

/**
 * `aggregator [temps:YYYYMMDD]`: a hybrid Nest application. The Redis Streams transport feeds
 * partition reads to the aggregator's @EventPattern handler; HTTP serves /health and /metrics.
 */
runService('aggregator', () => {
  const config = parseAggregatorConfig(process.argv.slice(2));
  return {
    module: AggregatorModule.forRoot(config),
    port: config.port,
    worker: (context) => {
      const app = context as INestApplication;
      const aggregator = app.get(AggregatorService);
      const heartbeat = app.get(Heartbeat);
      const transport = new RedisStreamsServer({
        redis: app.get(Redis),
        pattern: READINGS_PATTERN,
        source: aggregator,
        count: READ_BATCH,
        onTurn: () => heartbeat.beat(),
      });
      app.connectMicroservice({ strategy: transport });
      return {
        run: async () => {
          await aggregator.start();
          await app.startAllMicroservices();
          await transport.finished;
        },
        stop: () => void transport.close(),
      };
    },
  };
});
