import {
  Controller,
  Get,
  Header,
  Inject,
  Module,
  Global,
  type DynamicModule,
  type OnModuleInit,
} from '@nestjs/common';
import { REDIS_PROBE, type RedisClient } from '@temps/redis';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerRedisUp, registerStreamGauges } from './stream-gauges';

const METRICS_OPTIONS = Symbol('METRICS_OPTIONS');

@Controller('metrics')
export class MetricsController {
  constructor(@Inject(Registry) private readonly registry: Registry) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsModuleOptions {
  /** Added as the `service` label to every series, so dashboards can tell the services apart. */
  service: string;
  /**
   * Whether this service owns the per-stream gauges (`temps_stream_*`), Redis's memory and the
   * aggregator's headroom. Exactly one service of a stack should; every service reports
   * `temps_redis_up`.
   */
  streamGauges?: boolean;
}

/**
 * A Prometheus registry per application (never the global one, so several apps can share a test
 * process), with Node's default metrics, `temps_redis_up` and, in the one service that owns them,
 * the per-stream gauges.
 */
@Global()
@Module({})
export class MetricsModule implements OnModuleInit {
  constructor(
    @Inject(Registry) private readonly registry: Registry,
    // Scrapes read Redis through the probe connection: a scrape is only worth something now.
    @Inject(REDIS_PROBE) private readonly redis: RedisClient,
    @Inject(METRICS_OPTIONS) private readonly options: MetricsModuleOptions,
  ) {}

  static forRoot(options: MetricsModuleOptions): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [
        { provide: METRICS_OPTIONS, useValue: options },
        {
          provide: Registry,
          useFactory: () => {
            const registry = new Registry();
            registry.setDefaultLabels({ service: options.service });
            collectDefaultMetrics({ register: registry, prefix: 'temps_' });
            return registry;
          },
        },
      ],
      exports: [Registry],
    };
  }

  onModuleInit(): void {
    if (this.options.streamGauges) registerStreamGauges(this.registry, this.redis);
    else registerRedisUp(this.registry, this.redis);
  }
}
