export * from './keys';
export * from './partition-key';
export * from './reading';
export * from './reading-generator';
export * from './simulated-clock';
export * from './time';
