export * from './config';
export * from './run-service';
export * from './stream-consumer';
export * from './standby';
