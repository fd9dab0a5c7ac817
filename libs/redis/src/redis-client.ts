import { TimeoutError, withTimeout } from '@temps/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { RedisConfigError, redactRedisUrl } from './redis-url';

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Every command's deadline (ms): a Redis that stops answering (paused, frozen, a stalled proxy)
 * answers nothing, so only the client can end the wait. A command that times out may still be
 * applied later; every write here is guarded (the single-writer guard), so sending it again is
 * refused if it was. Long enough for any script here (a fold takes about 5 ms). A blocking read
 * gets its block time on top (RedisStreamsServer).
 */
export const COMMAND_TIMEOUT_MS = 10_000;

/**
 * A connected client: one node (`Redis`) or a Redis Cluster (`Cluster`, which routes each command
 * by its key's slot and follows MOVED/ASK). Code that must tell them apart uses `isCluster`.
 */
export type RedisClient = Redis | Cluster;

/** Injection token of the service's shared RedisClient (RedisModule). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/**
 * Why a service in the exercise's layout (one stream a day, no lanes) refuses a cluster: its atomic
 * steps span slots (a day's partition, `producer_state`, the consumers' states), which a cluster
 * refuses (CROSSSLOT). Lanes keep each step in one slot.
 */
export const CLUSTER_NEEDS_LANES =
  "the exercise's layout (one stream a day) cannot run on a cluster, since its steps span slots; use lanes: set PRODUCER_SHARDS for every service (3 per master spreads them evenly).";

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export interface ConnectOptions {
  /** Shown by CLIENT LIST, so each service's connections can be told apart. */
  connectionName: string;
  /** More cluster nodes to start from (`host:port`), beside REDIS_URL's (REDIS_CLUSTER_NODES). */
  clusterNodes?: readonly string[];
  /**
   * Why this service cannot run on a Redis Cluster (null: it can). When REDIS_URL names a cluster
   * node, connecting fails with RedisConfigError carrying this reason, before anything is written.
   */
  clusterRefusal?: string | null;
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/**
 * The nodes a whole-Redis question must be asked of, one client each: the masters of a cluster
 * (SCAN, INFO, CONFIG GET answer for one node only), or the one node.
 */
export function masterNodes(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}

/**
 * The connection through which commands on `slot` go now: on a cluster, the client's connection to
 * the master serving it (null while the client knows none); else the one node.
 */
export function masterOf(redis: RedisClient, slot: number): Redis | null {
  if (!isCluster(redis)) return redis;
  const owner = redis.slots[slot]?.[0];
  return redis.nodes('master').find((node) => nodeAddress(node) === owner) ?? null;
}

/** A node's address as the cluster names it (`host:port`). */
export function nodeAddress(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/**
 * Connects and proves the connection works (authenticated PING) before anything else happens, so a
 * wrong address or password is one clear error at start-up rather than a stream of retries. A URL
 * naming a node of a Redis Cluster (INFO cluster) gets the cluster client, with the URL's user,
 * password and TLS on every node. After that the client reconnects by itself for as long as the
 * process lives.
 *
 * Throws RedisUnavailableError (cannot connect or authenticate), RedisConfigError (a cluster with a
 * database number other than 0, or `clusterRefusal`).
 */
export async function connectRedis(url: string, options: ConnectOptions): Promise<RedisClient> {
  const node = await firstAnswering(url, options);
  let cluster: boolean;
  try {
    cluster = /cluster_enabled:1/.test(await node.info('cluster'));
  } catch (error) {
    node.disconnect();
    throw unavailable(url, error as Error);
  }
  const database = new URL(url).pathname.slice(1);
  if (!cluster) {
    // ioredis ignores a failed SELECT of the URL's database and carries on in database 0: select it
    // here, where a refusal is an error.
    if (database) await node.select(Number(database)).catch(failWith(node, url));
    return node;
  }
  node.disconnect();
  if (database && Number(database) !== 0) {
    throw new RedisConfigError(
      `REDIS_URL names database ${database}, but ${redactRedisUrl(url)} is a Redis Cluster node, which has database 0 only`,
    );
  }
  if (options.clusterRefusal) {
    throw new RedisConfigError(
      `${redactRedisUrl(url)} is a Redis Cluster node: ${options.clusterRefusal}`,
    );
  }
  return connectCluster(url, options);
}

/**
 * REDIS_URL's node, connected; while it does not answer, the first REDIS_CLUSTER_NODES seed that
 * does (with the URL's user, password, TLS and database). Throws the URL's RedisUnavailableError
 * when none answers.
 */
async function firstAnswering(url: string, options: ConnectOptions): Promise<Redis> {
  let failure: unknown;
  for (const candidate of [url, ...(options.clusterNodes ?? []).map((seed) => atSeed(url, seed))]) {
    try {
      return await connectNode(candidate, options.connectionName);
    } catch (error) {
      failure ??= error;
    }
  }
  throw failure;
}

/** `url` with its host and port replaced by `seed`'s (`host:port`). */
function atSeed(url: string, seed: string): string {
  const at = seed.lastIndexOf(':');
  const moved = new URL(url);
  moved.hostname = seed.slice(0, at);
  moved.port = seed.slice(at + 1);
  return moved.toString();
}

function clientOptions(connectionName: string): RedisOptions {
  return {
    connectionName,
    maxRetriesPerRequest: null,
    commandTimeout: COMMAND_TIMEOUT_MS,
  };
}

async function connectNode(url: string, connectionName: string): Promise<Redis> {
  const client = new Redis(url, {
    ...clientOptions(connectionName),
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  // Some refusals make ioredis retry forever instead of failing: the first connection gets a deadline.
  try {
    await withTimeout(
      client.connect().then(() => client.ping()),
      CONNECT_TIMEOUT_MS,
    );
  } catch (error) {
    client.disconnect();
    throw unavailable(url, lastError ?? (error as Error));
  }
  return client;
}

async function connectCluster(url: string, options: ConnectOptions): Promise<Cluster> {
  const parsed = new URL(url);
  const seeds = [
    { host: parsed.hostname, port: Number(parsed.port || 6379) },
    ...(options.clusterNodes ?? []).map((address) => {
      const at = address.lastIndexOf(':');
      return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
    }),
  ];
  const cluster = new Cluster(seeds, {
    redisOptions: {
      ...clientOptions(options.connectionName),
      username: decodeURIComponent(parsed.username) || undefined,
      password: decodeURIComponent(parsed.password) || undefined,
      tls: parsed.protocol === 'rediss:' ? {} : undefined,
    },
    // A failover takes a few seconds (cluster-node-timeout plus the election): MOVED, ASK,
    // TRYAGAIN and CLUSTERDOWN are retried for that long before a command fails.
    maxRedirections: 64,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    lazyConnect: true,
  });
  let lastError: Error | undefined;
  cluster.on('error', (error: Error) => (lastError = error));
  try {
    await withTimeout(
      cluster.connect().then(() => cluster.ping()),
      CONNECT_TIMEOUT_MS,
    );
  } catch (error) {
    cluster.disconnect();
    throw unavailable(url, lastError ?? (error as Error));
  }
  return cluster;
}

function failWith(client: Redis, url: string) {
  return (error: Error): never => {
    client.disconnect();
    throw unavailable(url, error);
  };
}

function unavailable(url: string, error: Error): RedisUnavailableError {
  const cause =
    error instanceof TimeoutError
      ? new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)
      : error;
  return new RedisUnavailableError(
    `Cannot use Redis at ${redactRedisUrl(url)}: ${describe(cause)}`,
    {
      cause,
    },
  );
}

function describe(error: Error): string {
  const message = error.message;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return 'wrong user name or password';
  }
  if (/NOAUTH/.test(message)) return 'Redis requires a password (set it in REDIS_URL)';
  return message;
}
