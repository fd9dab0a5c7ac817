import { ProgressReporter } from './progress-reporter';
import { ConsoleOutput } from '@temps/runtime';
import { Module, type DynamicModule } from '@nestjs/common';
import { HealthModule } from '@temps/health';
import { MetricsModule } from '@temps/metrics';
import { CLUSTER_NEEDS_LANES, RedisModule } from '@temps/redis';
import { PRODUCER_CONFIG } from './producer.constants';
import type { ProducerConfig } from './producer-config';
import { ProducerMetrics } from './producer.metrics';
import { ProducerRepository } from './producer.repository';
import { ProducerRunner } from './producer.runner';
import { LanesRepository } from './lanes.repository';
import { LanesRunner } from './lanes.runner';

@Module({})
export class ProducerModule {
  static forRoot(config: ProducerConfig): DynamicModule {
    return {
      module: ProducerModule,
      imports: [
        RedisModule.forRoot({
          url: config.redisUrl,
          connectionName: 'temps-producer',
          clusterNodes: config.redisClusterNodes,
          clusterRefusal: config.shards == null ? CLUSTER_NEEDS_LANES : null,
        }),
        MetricsModule.forRoot({ service: 'producer' }),
        // A paced run sleeps up to a second between batches; a blocked write stalls the loop.
        HealthModule.forRoot({ loop: 'write_loop', maxSilenceMs: 10_000 }),
      ],
      providers: [
        { provide: PRODUCER_CONFIG, useValue: config },
        ProducerRepository,
        ProducerMetrics,
        ProducerRunner,
        LanesRepository,
        LanesRunner,
        ProgressReporter,
        ConsoleOutput,
      ],
    };
  }
}
