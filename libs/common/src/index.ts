export * from './throttled-logger';
export * from './timeout';
