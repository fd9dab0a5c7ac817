import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import { connectRedis } from './redis-client';

export interface RedisModuleOptions {
  url: string;
  /** Shown by CLIENT LIST, so each service's connections can be told apart. */
  connectionName: string;
}

/** One shared ioredis client per service, connected (and verified) before the application starts. */
@Global()
@Module({})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(Redis) private readonly redis: Redis) {}

  static forRoot(options: RedisModuleOptions): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        { provide: Redis, useFactory: () => connectRedis(options.url, options.connectionName) },
      ],
      exports: [Redis],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}
