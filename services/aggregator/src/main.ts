import 'reflect-metadata';
import { runService, streamConsumerWorker } from '@temps/runtime';
import { READINGS_PATTERN } from './aggregator.constants';
import { parseAggregatorConfig } from './aggregator-config';
import { AggregatorModule } from './aggregator.module';
import { AggregatorService, READ_BATCH } from './aggregator.service';

/**
 * `aggregator [temps:YYYYMMDD]`: a hybrid Nest application. The Redis Streams transport feeds
 * partition reads to the aggregator's @EventPattern handler; HTTP serves /health and /metrics.
 */
runService('aggregator', () => {
  const config = parseAggregatorConfig(process.argv.slice(2), process.env);
  return {
    module: AggregatorModule.forRoot(config),
    port: config.port,
    worker: (app) =>
      streamConsumerWorker(app, {
        pattern: READINGS_PATTERN,
        consumer: app.get(AggregatorService),
        count: READ_BATCH,
      }),
  };
});
