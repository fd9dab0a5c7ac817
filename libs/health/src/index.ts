export * from './health.module';
export * from './heartbeat';
