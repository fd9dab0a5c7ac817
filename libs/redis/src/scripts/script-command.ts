import type { RedisClient } from '../redis-client';

/**
 * A Lua script called as a command of the client (`redis[name](...keys, ...args)`: EVALSHA, with
 * EVAL when Redis does not have it cached). Its typed signature is declared beside it, in a
 * `declare module 'ioredis'` augmentation of RedisCommander.
 */
export interface ScriptCommand {
  name: string;
  numberOfKeys: number;
  lua: string;
}

/** Registers the scripts on the client, each once (several repositories may share one client). */
export function defineScripts(redis: RedisClient, ...scripts: readonly ScriptCommand[]): void {
  for (const { name, numberOfKeys, lua } of scripts) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
  }
}
