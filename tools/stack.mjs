#!/usr/bin/env node
// `npm start`: the whole pipeline as local processes, with the settings of docker-compose.yml —
// the producer forever at 3600x from 2025-01-01, the aggregator from the oldest partition, the
// averages reader — against REDIS_URL, else a Redis answering on localhost:6379, else a private
// redis-server started (and stopped) here. Ctrl+C stops everything.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { runTogether } from './run-together.mjs';

const { PORT: _port, ...env } = process.env;
const ports = {
  producer: env.PRODUCER_PORT ?? '3001',
  aggregator: env.AGGREGATOR_PORT ?? '3002',
  averages: env.AVERAGES_PORT ?? '3003',
};

async function answers(url) {
  const probe = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A private redis-server with the compose stack's stream node settings; null if there is none. */
async function startPrivateRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'temps-stack-redis-'));
  const server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--stream-node-max-entries',
      '1000',
      '--stream-node-max-bytes',
      '0',
    ],
    { stdio: 'ignore' },
  );
  const started = await new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.once('spawn', () => resolve(true));
  });
  if (!started) return null;
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await answers(url)); i++)
    await new Promise((r) => setTimeout(r, 50));
  const stop = () =>
    new Promise((resolve) => {
      server.once('exit', () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      });
      server.kill('SIGTERM');
    });
  return { url, stop };
}

async function main() {
  let redisUrl = env.REDIS_URL;
  let stopRedis = async () => undefined;
  const local = env.STACK_LOCAL_REDIS_URL ?? 'redis://localhost:6379';
  if (!redisUrl && (await answers(local))) redisUrl = local;
  if (!redisUrl) {
    const own = await startPrivateRedis();
    if (!own) {
      process.stderr.write(
        'No Redis to use: set REDIS_URL, start a Redis on localhost:6379, or install redis-server ' +
          '(Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis).\n',
      );
      process.exit(1);
    }
    redisUrl = own.url;
    stopRedis = own.stop;
    process.stdout.write(`stack: started a private redis-server at ${redisUrl}\n`);
  }
  process.stdout.write(
    `stack: Redis ${redisUrl.replace(/:[^:@/]*@/, ':***@')}; HTTP producer ${ports.producer}, aggregator ${ports.aggregator}, averages ${ports.averages}\n`,
  );

  runTogether(
    [
      {
        name: 'producer',
        service: 'producer',
        args: ['--follow', '--resume'],
        env: {
          PORT: ports.producer,
          PRODUCER_START: '2025-01-01',
          PRODUCER_SPEED: '3600',
          PRODUCER_DEVICES: '1',
        },
      },
      {
        name: 'aggregator',
        service: 'aggregator',
        env: { PORT: ports.aggregator, AGGREGATOR_FROM_OLDEST: 'true' },
      },
      { name: 'averages', service: 'averages', env: { PORT: ports.averages } },
    ],
    {
      env: { ...env, REDIS_URL: redisUrl },
      onExit: async (code) => {
        await stopRedis();
        process.exit(code);
      },
    },
  );
}

main();
