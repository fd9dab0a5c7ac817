import 'reflect-metadata';
import { runService } from '@temps/runtime';
import { parseProducerConfig } from './producer-config';
import { ProducerModule } from './producer.module';
import { LanesRunner } from './lanes.runner';
import { ProducerRunner } from './producer.runner';

/** Builds and runs the service; loaded by main.ts once stop requests are caught. */
runService('producer', () => {
  const config = parseProducerConfig(process.argv.slice(2), process.env);
  return {
    module: ProducerModule.forRoot(config),
    port: config.days === null ? config.port : null,
    // --shards: the lanes layout, shared by any number of producers; else the exercise's own.
    worker: (app) => (config.shards ? app.get(LanesRunner) : app.get(ProducerRunner)),
  };
});
