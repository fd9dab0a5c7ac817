import { isCluster, type RedisClient } from './redis-client';

/** Injection token for the client of commands that are only worth something now (see `probeClient`). */
export const REDIS_PROBE = Symbol('REDIS_PROBE');

/** `probeClient`, connected: waits up to `readyWithinMs` for it to be ready. */
export async function connectProbe(
  redis: RedisClient,
  readyWithinMs = 2_000,
): Promise<RedisClient> {
  const probe = probeClient(redis);
  // Ready before the service answers its first probe (the main connection has just succeeded);
  // if it is not, probes fail until it is, which is what they should say.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, readyWithinMs);
    probe.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return probe;
}

/**
 * A second connection (for a cluster, a second cluster client) for health probes and metrics
 * scrapes. Their answers matter only now: while Redis is away they fail at once instead of waiting
 * in ioredis's offline queue, and a command sent just before a connection dropped is not sent again
 * after it comes back. Otherwise every probe of an outage would be replayed against Redis on
 * reconnect.
 */
export function probeClient(redis: RedisClient): RedisClient {
  const probe = isCluster(redis)
    ? redis.duplicate([], {
        enableOfflineQueue: false,
        lazyConnect: false,
        redisOptions: {
          ...redis.options.redisOptions,
          connectionName: `${redis.options.redisOptions?.connectionName ?? 'temps'}-probe`,
          autoResendUnfulfilledCommands: false,
          maxRetriesPerRequest: 0,
        },
      })
    : redis.duplicate({
        connectionName: `${redis.options.connectionName ?? 'temps'}-probe`,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        lazyConnect: false,
      });
  probe.on('error', () => undefined); // a probe that fails says so itself
  return probe;
}

/**
 * Runs `command` once for every caller that arrives while it is in flight, so a Redis that accepts
 * commands but does not answer holds one probe, not one per request.
 */
export function singleFlight<T>(command: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | null = null;
  return () => {
    inFlight ??= command().finally(() => (inFlight = null));
    return inFlight;
  };
}
