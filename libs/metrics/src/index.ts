export * from './metrics.module';
export * from './stream-gauges';
