#!/usr/bin/env node
// `npm start`: the whole pipeline as local processes, with the settings of docker-compose.yml (read
// from it, so the two cannot drift apart) — the producer forever at 360x from 2025-01-01, the
// aggregator from the oldest partition, the averages reader — against REDIS_URL, else a Redis
// answering on localhost:6379, else a private redis-server started (and stopped) here with the
// compose file's Redis options. The averages service stores every hourly average in WAREHOUSE_URL,
// else in an embedded PostgreSQL (PGlite) in STACK_WAREHOUSE_DIR (default .data/warehouse), so
// nothing needs installing. Ctrl+C stops everything.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Redis from 'ioredis';
import { parse } from 'yaml';
import { runTogether } from './run-together.mjs';

const { PORT: _port, ...env } = process.env;
const ports = {
  producer: env.PRODUCER_PORT ?? '3001',
  aggregator: env.AGGREGATOR_PORT ?? '3002',
  averages: env.AVERAGES_PORT ?? '3003',
};

const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'));

/**
 * A compose service's settings for a local process: its command and environment, minus what is
 * local here. A variable listed without a value (`PRODUCER_SEED:`) is compose's pass-through from
 * the caller's environment, which the processes inherit anyway.
 */
function fromCompose(name) {
  const { command = [], environment = {} } = compose.services[name];
  const { REDIS_URL: _redis, PORT: _port, WAREHOUSE_URL: _warehouse, ...settings } = environment;
  const given = Object.entries(settings).filter(([, value]) => value !== null);
  return { args: command, env: Object.fromEntries(given) };
}

/** The Redis options the compose file gives redis-server (append-only file, stream node settings). */
const redisOptions = compose.services.redis.command.slice(1);

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
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...redisOptions],
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

function withPort({ args, env: settings }, port) {
  return { args, env: { ...settings, PORT: port } };
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
  const warehouseUrl =
    env.WAREHOUSE_URL ||
    pathToFileURL(
      resolve(
        env.STACK_WAREHOUSE_DIR ?? fileURLToPath(new URL('../.data/warehouse', import.meta.url)),
      ),
    ).href;
  process.stdout.write(
    env.WAREHOUSE_URL
      ? `stack: warehouse ${env.WAREHOUSE_URL.replace(/:[^:@/]*@/, ':***@')}\n`
      : `stack: warehouse: embedded PostgreSQL (PGlite) in ${fileURLToPath(warehouseUrl)}\n`,
  );
  process.stdout.write(
    `stack: Redis ${redisUrl.replace(/:[^:@/]*@/, ':***@')}; HTTP producer ${ports.producer}, aggregator ${ports.aggregator}, averages ${ports.averages}\n`,
  );

  const averages = withPort(fromCompose('averages'), ports.averages);
  runTogether(
    [
      {
        name: 'producer',
        service: 'producer',
        ...withPort(fromCompose('producer'), ports.producer),
      },
      {
        name: 'aggregator',
        service: 'aggregator',
        ...withPort(fromCompose('aggregator'), ports.aggregator),
      },
      {
        name: 'averages',
        service: 'averages',
        args: averages.args,
        env: { ...averages.env, WAREHOUSE_URL: warehouseUrl },
      },
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
