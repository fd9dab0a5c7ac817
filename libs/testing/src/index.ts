export * from './free-port';
export * from './private-redis';
export * from './redis-snapshot';
export * from './service-process';
export * from './expected-averages';
export * from './dashboard';
export * from './metrics-text';
export * from './restartable-redis';
