import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConsoleLogger,
  Logger,
  type DynamicModule,
  type INestApplication,
  type INestApplicationContext,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

export class StartupError extends Error {
  override name = 'StartupError';
}

/** The piece of a service that does its work: started once, asked to stop on SIGTERM/SIGINT. */
export interface Worker {
  run(): Promise<void>;
  stop(): void;
}

export interface ServiceSpec {
  /** Prefix of the one-line error printed when start-up fails. */
  name: string;
  module: DynamicModule;
  /** HTTP port for /health and /metrics; `null` for a bounded CLI run that serves nothing. */
  port: number | null;
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
export function runService(spec: ServiceSpec): void {
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

  start(spec, signalled).then(
    () => process.exit(0),
    (error: Error) => {
      if ((error as { code?: string }).code === 'commander.helpDisplayed') process.exit(0);
      process.stderr.write(`${spec.name}: ${error.message}\n`);
      process.exit(1);
    },
  );
}

async function start(spec: ServiceSpec, signalled: Promise<NodeJS.Signals>): Promise<void> {
  const options = { logger: false as const, abortOnError: false };
  const app =
    spec.port === null
      ? await NestFactory.createApplicationContext(spec.module, options)
      : await NestFactory.create(spec.module, options);
  let stopping = false;
  try {
    if (spec.port !== null) await listen(app as INestApplication, spec.port);
    app.useLogger(
      new ConsoleLogger({
        logLevels: ['log', 'warn', 'error'],
        colors: Boolean(process.stdout.isTTY),
      }),
    );
    if (spec.port !== null) {
      Logger.log(`Serving /health and /metrics on port ${spec.port}`, spec.name);
    }
    const worker = spec.worker(app);
    const work = worker.run();
    const outcome = await Promise.race([work.then(() => null), signalled]);
    if (outcome !== null) {
      stopping = true;
      worker.stop();
      await Promise.race([work.catch(() => undefined), sleep(spec.graceMs ?? 1_500)]);
    }
  } catch (error) {
    if (!stopping) throw error;
  } finally {
    await app.close();
  }
}

async function listen(app: INestApplication, port: number): Promise<void> {
  try {
    await app.listen(port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StartupError(`Port ${port} is already in use; set PORT to a free port.`);
    }
    throw error;
  }
}
