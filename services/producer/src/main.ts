import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, parseProducerConfig } from './producer-config';
import { ProducerModule } from './producer.module';
import { ProducerRunner } from './producer.runner';

/**
 * `producer [options]`: a bounded run writes its days and exits; `--follow` runs forever and serves
 * /health and /metrics on PORT. Any problem before the first write exits 1 with one line, having
 * deleted and written nothing.
 */
async function main(): Promise<void> {
  const config = parseProducerConfig(process.argv.slice(2));
  const serve = config.days === null;
  const module = ProducerModule.forRoot(config);
  const logger = serve ? (['log', 'warn', 'error'] as const) : (['warn', 'error'] as const);
  const app = serve
    ? await NestFactory.create(module, { logger: [...logger], abortOnError: false })
    : await NestFactory.createApplicationContext(module, { logger: [...logger], abortOnError: false });

  const runner = app.get(ProducerRunner);
  let signalled = false;
  const stop = () => {
    signalled = true;
    runner.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  try {
    if (serve) await listen(app as INestApplication, config.port);
    await runner.run();
  } finally {
    await app.close();
  }
  if (signalled) process.exitCode = 0;
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

main().catch((error: Error) => {
  if ((error as { code?: string }).code === 'commander.helpDisplayed') return;
  process.stderr.write(`producer: ${error.message}\n`);
  process.exit(1);
});
