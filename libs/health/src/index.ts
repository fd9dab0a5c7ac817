export * from './health.module';
export * from './heartbeat';
export * from './dependency-checks';
