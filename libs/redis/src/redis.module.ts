import { waitAtMost } from '@temps/common';
import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import { connectRedis } from './redis-client';
import { REDIS_PROBE, connectProbe } from './redis-probe';

export interface RedisModuleOptions {
  url: string;
  /** Shown by CLIENT LIST, so each service's connections can be told apart. */
  connectionName: string;
}

/** One shared ioredis client per service, connected (and verified) before the application starts. */
@Global()
@Module({})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(Redis) private readonly redis: Redis,
    @Inject(REDIS_PROBE) private readonly probe: Redis,
  ) {}

  static forRoot(options: RedisModuleOptions): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        { provide: Redis, useFactory: () => connectRedis(options.url, options.connectionName) },
        { provide: REDIS_PROBE, useFactory: connectProbe, inject: [Redis] },
      ],
      exports: [Redis, REDIS_PROBE],
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
