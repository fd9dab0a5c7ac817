import { catchStopRequests, waitAtMost } from '@temps/common';
import {
  ConsoleLogger,
  Logger,
  type DynamicModule,
  type INestApplication,
  type INestApplicationContext,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { REDIS_CLIENT, evictionWarning, type RedisClient } from '@temps/redis';
import { ConfigError } from './config';
import { ExitRequest } from './exit-request';

/** The piece of a service that does its work: started once, asked to stop on SIGTERM/SIGINT. */
export interface Worker {
  run(): Promise<void>;
  stop(): void;
}

export interface ServiceSpec {
  module: DynamicModule;
  /** HTTP port for /health and /metrics; `null` for a bounded CLI run that serves nothing. */
  port: number | null;
  /** Called once the application exists, before it serves HTTP (hybrid apps connect their transport here). */
  worker: (app: INestApplicationContext) => Worker;
  /** How long a stop may wait for the work in hand before Redis is closed under it. */
  graceMs?: number;
}

/**
 * The life of every service process: build the Nest application quietly (a start-up failure is one
 * line on stderr and exit 1, before any work), serve HTTP if asked, run the worker until it ends or
 * a signal arrives, then close everything and exit 0. Work still in flight when the grace period
 * ends is abandoned; every write the services make is atomic, so that is always consistent.
 */
export function runService(name: string, build: () => ServiceSpec): void {
  let spec: ServiceSpec;
  try {
    spec = build();
  } catch (error) {
    return exitWith(name, error as Error);
  }
  // A rejection nobody awaited is still a failure: one line and exit 1, not a stack dump.
  process.once('unhandledRejection', (reason) => exitWith(name, toError(reason)));
  // Usually caught already, by the service's main.ts before it loaded anything heavy.
  const signalled = catchStopRequests();

  start(spec, signalled).then(
    () => process.exit(0),
    (error: Error) => exitWith(name, error),
  );
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function exitWith(name: string, error: Error): never {
  if (error instanceof ExitRequest) {
    process.stdout.write(error.lines.map((line) => `${line}\n`).join(''));
    process.exit(error.code);
  }
  if ((error as { code?: string }).code === 'commander.helpDisplayed') process.exit(0);
  process.stderr.write(`${name}: ${error.message}\n`);
  process.exit(1);
}

async function start(spec: ServiceSpec, signalled: Promise<NodeJS.Signals>): Promise<void> {
  const options = { logger: false as const, abortOnError: false };
  const creating =
    spec.port === null
      ? NestFactory.createApplicationContext(spec.module, options)
      : NestFactory.create(spec.module, options);
  // Stopped while still connecting: nothing has been done yet, so there is nothing to finish.
  const created = await Promise.race([creating, signalled.then(() => null)]);
  if (created === null) {
    creating.then((app) => app.close()).catch(() => undefined);
    return;
  }
  const app = created;
  let stopping = false;
  try {
    const worker = spec.worker(app);
    if (spec.port !== null) await listen(app as INestApplication, spec.port);
    app.useLogger(new ServiceLogger({ colors: Boolean(process.stdout.isTTY) }));
    await warnIfStateEvictable(app);
    if (spec.port !== null) {
      Logger.log(`Serving /health and /metrics on port ${spec.port}`, 'HTTP');
    }
    const work = worker.run();
    const outcome = await Promise.race([work.then(() => null), signalled]);
    if (outcome !== null) {
      stopping = true;
      worker.stop();
      await waitAtMost(work, spec.graceMs ?? 1_500);
    }
  } catch (error) {
    if (!stopping) throw error;
  } finally {
    await app.close();
  }
}

/**
 * One line at start-up, before any work, when Redis's maxmemory-policy can evict state. A Redis
 * slow to answer holds the start for at most a second, and is then not asked again.
 */
async function warnIfStateEvictable(app: INestApplicationContext): Promise<void> {
  let redis: RedisClient;
  try {
    redis = app.get(REDIS_CLIENT, { strict: false });
  } catch {
    return; // a service without Redis
  }
  const checked = evictionWarning(redis).then((warning) => {
    if (warning) Logger.warn(warning, 'Redis');
  });
  await waitAtMost(checked, 1_000);
}

/** Nest's own start-up chatter stays out of the console: the services print what matters. */
class ServiceLogger extends ConsoleLogger {
  private static readonly quiet = new Set([
    'NestFactory',
    'InstanceLoader',
    'RoutesResolver',
    'RouterExplorer',
    'NestApplication',
    'NestMicroservice',
  ]);

  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && ServiceLogger.quiet.has(context)) return;
    super.log(message, ...optionalParams);
  }
}

async function listen(app: INestApplication, port: number): Promise<void> {
  try {
    await app.listen(port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(`Port ${port} is already in use; set PORT to a free port.`);
    }
    throw error;
  }
}
