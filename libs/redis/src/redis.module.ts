import { waitAtMost } from '@temps/common';
import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { REDIS_CLIENT, connectRedis, type ConnectOptions, type RedisClient } from './redis-client';
import { REDIS_PROBE, connectProbe } from './redis-probe';

export interface RedisModuleOptions extends ConnectOptions {
  url: string;
}

/**
 * One shared client per service (REDIS_CLIENT: one node or a cluster), connected (and verified)
 * before the application starts, and a probe client (REDIS_PROBE) for health and metrics.
 */
@Global()
@Module({})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: RedisClient,
    @Inject(REDIS_PROBE) private readonly probe: RedisClient,
  ) {}

  static forRoot(options: RedisModuleOptions): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        { provide: REDIS_CLIENT, useFactory: () => connectRedis(options.url, options) },
        { provide: REDIS_PROBE, useFactory: connectProbe, inject: [REDIS_CLIENT] },
      ],
      exports: [REDIS_CLIENT, REDIS_PROBE],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    this.probe.disconnect();
    // QUIT lets Redis finish what it was sent; a Redis that does not answer gets 200 ms for it.
    if (this.redis.status === 'ready') {
      await waitAtMost(this.redis.quit(), 200);
    }
    this.redis.disconnect();
  }
}
