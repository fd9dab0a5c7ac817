export * from './config';
export * from './run-service';
export * from './stream-consumer';
