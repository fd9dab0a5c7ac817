import 'reflect-metadata';
import { runService, streamConsumerWorker, type StreamConsumer } from '@temps/runtime';
import { AGGREGATOR_CONSUMER, READINGS_PATTERN } from './aggregator.constants';
import { parseAggregatorConfig } from './aggregator-config';
import { AggregatorModule } from './aggregator.module';

/** Builds and runs the service; loaded by main.ts once stop requests are caught. */
runService('aggregator', () => {
  const config = parseAggregatorConfig(process.argv.slice(2), process.env);
  return {
    module: AggregatorModule.forRoot(config),
    port: config.port,
    worker: (app) =>
      streamConsumerWorker(app, {
        pattern: READINGS_PATTERN,
        consumer: app.get<StreamConsumer>(AGGREGATOR_CONSUMER),
        // The read only wakes the aggregator: the fold reads the partition inside Redis.
        count: 1,
      }),
  };
});
