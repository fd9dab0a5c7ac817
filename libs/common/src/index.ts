export * from './redact-url';
export * from './stop-requests';
export * from './throttled-logger';
export * from './timeout';
