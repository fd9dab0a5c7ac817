export * from './free-port';
export * from './private-redis';
