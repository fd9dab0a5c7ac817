import type { Redis } from 'ioredis';
import { freePort } from './free-port';
import { startPrivateRedis, type PrivateRedis } from './private-redis';
import { ServiceProcess } from './service-process';

/** A service started by a harness: the process, its HTTP port and base URL. */
export interface StartedService {
  child: ServiceProcess;
  port: number;
  base: string;
}

/**
 * A private Redis for the calling describe(), registered as jest hooks: started once, emptied
 * before each test, stopped at the end. Read `server` and `redis` inside tests or hooks.
 */
export function usePrivateRedis() {
  let server: PrivateRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterAll(() => server.stop());
  beforeEach(() => redis.flushall());
  return {
    get server(): PrivateRedis {
      return server;
    },
    get redis(): Redis {
      return redis;
    },
  };
}

/**
 * The fixture most service suites share, registered as jest hooks of the calling describe(): one
 * private Redis for the suite, emptied before each test, and service processes that are SIGKILLed
 * after each test. Read `server` and `redis` inside tests or hooks (they exist from beforeAll on).
 */
export function useServiceHarness() {
  const redis = usePrivateRedis();
  const server = () => redis.server;
  let running: ServiceProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    running = [];
  });

  return {
    get server(): PrivateRedis {
      return redis.server;
    },
    get redis(): Redis {
      return redis.redis;
    },
    /** The environment that points a service at the private Redis. */
    env: (): NodeJS.ProcessEnv => ({ REDIS_URL: server().url }),
    /** Starts a built service on a free port; it is killed after the test. */
    async start(
      service: string,
      args: string[],
      extra: NodeJS.ProcessEnv = {},
    ): Promise<StartedService> {
      const port = await freePort();
      const child = new ServiceProcess(service, args, {
        REDIS_URL: server().url,
        PORT: String(port),
        ...extra,
      });
      running.push(child);
      return { child, port, base: `http://127.0.0.1:${port}` };
    },
    /** A process the test started itself, killed after the test like the others. */
    track(child: ServiceProcess): ServiceProcess {
      running.push(child);
      return child;
    },
  };
}
