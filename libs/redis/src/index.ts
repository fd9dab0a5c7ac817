export * from './partitions';
export * from './redis-client';
export * from './redis-probe';
export * from './redis-streams.server';
export * from './redis-url';
export * from './redis.module';
