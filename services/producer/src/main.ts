import 'reflect-metadata';
import { runService } from '@temps/runtime';
import { parseProducerConfig } from './producer-config';
import { ProducerModule } from './producer.module';
import { ProducerRunner } from './producer.runner';

/**
 * `producer [options]`: a bounded run writes its days and exits; `--follow` runs forever and serves
 * /health and /metrics on PORT. Any problem before the first write exits 1 with one line, having
 * deleted and written nothing.
 */
runService('producer', () => {
  const config = parseProducerConfig(process.argv.slice(2), process.env);
  return {
    module: ProducerModule.forRoot(config),
    port: config.days === null ? config.port : null,
    worker: (app) => app.get(ProducerRunner),
  };
});
