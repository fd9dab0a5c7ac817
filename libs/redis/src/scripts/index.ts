export * from './hset-if-absent.lua';
export * from './lua-fragments';
export * from './script-command';
