import 'reflect-metadata';
import { runService, streamConsumerWorker, type Worker } from '@temps/runtime';
import { AVERAGES_PATTERN } from './averages.constants';
import { parseAveragesConfig } from './averages-config';
import { AveragesModule } from './averages.module';
import { AveragesService } from './averages.service';
import { WarehouseSink } from './warehouse-sink';

/** Builds and runs the service; loaded by main.ts once stop requests are caught. */
runService('averages', () => {
  const config = parseAveragesConfig(process.argv.slice(2), process.env, process.stdout);
  return {
    module: AveragesModule.forRoot(config),
    port: config.port,
    worker: (app): Worker => {
      const reader = streamConsumerWorker(app, {
        pattern: AVERAGES_PATTERN,
        consumer: app.get(AveragesService),
      });
      if (!config.warehouse) return reader;
      const sink = app.get(WarehouseSink);
      return {
        run: async () => {
          await Promise.all([reader.run(), sink.run()]);
        },
        stop: () => {
          reader.stop();
          sink.stop();
        },
      };
    },
  };
});
