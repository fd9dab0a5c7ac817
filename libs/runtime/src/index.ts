export * from './config';
export * from './console-output';
export * from './exit-request';
export * from './run-service';
export * from './stream-consumer';
export * from './standby';
