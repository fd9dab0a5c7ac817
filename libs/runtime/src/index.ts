export * from './config';
export * from './console-output';
export * from './exit-request';
export * from './run-service';
export * from './stream-consumer';
export * from './single-writer';
export * from './standby';
