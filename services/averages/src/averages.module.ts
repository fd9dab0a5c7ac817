import { ConsoleOutput } from '@temps/runtime';
import { Module, type DynamicModule } from '@nestjs/common';
import { HealthModule } from '@temps/health';
import { MetricsModule } from '@temps/metrics';
import { CLUSTER_NEEDS_LANES, RedisModule } from '@temps/redis';
import { Warehouse } from '@temps/warehouse';
import type { AveragesConfig } from './averages-config';
import { AveragesController } from './averages.controller';
import { AveragesMetrics } from './averages.metrics';
import { AveragesRepository } from './averages.repository';
import { AveragesService } from './averages.service';
import { AVERAGES_CONFIG } from './averages.constants';
import { WarehouseSink } from './warehouse-sink';

@Module({})
export class AveragesModule {
  static forRoot(config: AveragesConfig): DynamicModule {
    return {
      module: AveragesModule,
      imports: [
        RedisModule.forRoot({
          url: config.redisUrl,
          connectionName: 'temps-averages',
          clusterNodes: config.redisClusterNodes,
          clusterRefusal: config.shards == null ? CLUSTER_NEEDS_LANES : null,
        }),
        // The reader owns the per-stream gauges: it keeps reporting them (and the aggregator's headroom)
        // while the aggregator or the producer is stopped.
        MetricsModule.forRoot({ service: 'averages', streamGauges: true }),
        HealthModule.forRoot({ loop: 'read_loop', maxSilenceMs: 10_000 }),
      ],
      controllers: [AveragesController],
      providers: [
        ConsoleOutput,
        { provide: AVERAGES_CONFIG, useValue: config },
        AveragesRepository,
        AveragesMetrics,
        AveragesService,
        ...(config.warehouse
          ? [{ provide: Warehouse, useValue: Warehouse.open(config.warehouse) }, WarehouseSink]
          : []),
      ],
    };
  }
}
