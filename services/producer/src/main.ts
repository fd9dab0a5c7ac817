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
try {
  const config = parseProducerConfig(process.argv.slice(2));
  runService({
    name: 'producer',
    module: ProducerModule.forRoot(config),
    port: config.days === null ? config.port : null,
    worker: (app) => app.get(ProducerRunner),
  });
} catch (error) {
  if ((error as { code?: string }).code !== 'commander.helpDisplayed') {
    process.stderr.write(`producer: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
