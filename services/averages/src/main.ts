import 'reflect-metadata';
import { runService, streamConsumerWorker } from '@temps/runtime';
import { AVERAGES_PATTERN } from './averages.constants';
import { parseAveragesConfig } from './averages-config';
import { AveragesModule } from './averages.module';
import { AveragesService } from './averages.service';

/** `averages`: tails temps:averages and prints each hourly average; serves /health and /metrics. */
runService('averages', () => {
  const config = parseAveragesConfig(process.argv.slice(2));
  return {
    module: AveragesModule.forRoot(config),
    port: config.port,
    worker: (app) =>
      streamConsumerWorker(app, { pattern: AVERAGES_PATTERN, consumer: app.get(AveragesService) }),
  };
});
