import { ConsoleOutput } from '@temps/runtime';
import { Module, type DynamicModule } from '@nestjs/common';
import { HealthModule } from '@temps/health';
import { MetricsModule } from '@temps/metrics';
import { CLUSTER_NEEDS_LANES, RedisModule } from '@temps/redis';
import { AGGREGATOR_CONFIG, AGGREGATOR_CONSUMER } from './aggregator.constants';
import type { AggregatorConfig } from './aggregator-config';
import { AggregatorController } from './aggregator.controller';
import { AggregatorPosition } from './aggregator-position';
import { AggregatorMetrics } from './aggregator.metrics';
import { AggregatorReporter } from './aggregator.reporter';
import { AggregatorRepository } from './aggregator.repository';
import { AggregatorService } from './aggregator.service';
import { LanesAggregatorService } from './lanes/lanes-aggregator.service';
import { LanesRepository } from './lanes/lanes.repository';

@Module({})
export class AggregatorModule {
  static forRoot(config: AggregatorConfig): DynamicModule {
    return {
      module: AggregatorModule,
      imports: [
        RedisModule.forRoot({
          url: config.redisUrl,
          connectionName: 'temps-aggregator',
          clusterNodes: config.redisClusterNodes,
          clusterRefusal: config.shards == null ? CLUSTER_NEEDS_LANES : null,
        }),
        MetricsModule.forRoot({ service: 'aggregator' }),
        // The read loop turns at least once per XREAD BLOCK timeout (1 s) unless Redis stalls it.
        HealthModule.forRoot({ loop: 'read_loop', maxSilenceMs: 10_000 }),
      ],
      controllers: [AggregatorController],
      providers: [
        ConsoleOutput,
        { provide: AGGREGATOR_CONFIG, useValue: config },
        AggregatorRepository,
        AggregatorMetrics,
        AggregatorReporter,
        AggregatorPosition,
        AggregatorService,
        LanesRepository,
        LanesAggregatorService,
        {
          provide: AGGREGATOR_CONSUMER,
          useExisting: config.shards === null ? AggregatorService : LanesAggregatorService,
        },
      ],
    };
  }
}
