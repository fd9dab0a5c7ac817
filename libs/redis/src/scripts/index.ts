export * from './hset-if-absent.lua';
export * from './lua-fragments';
export * from './position-guard';
export * from './script-command';
