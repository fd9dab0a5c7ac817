#!/usr/bin/env node
// `npm run consumers -- [temps:YYYYMMDD]`: the aggregating consumer and the averages consumer side
// by side, their output prefixed `agg:` and `avg:` as in the seed exercise. The averages consumer
// starts once the aggregator has loaded or reset the shared state, so it never reads a stale
// temps:averages. Ctrl+C (or SIGTERM) stops both.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = (service) => `${root}dist/${service}/services/${service}/src/main.js`;

// Each service keeps its own default port (3002, 3003): one PORT for both would collide.
const { PORT: _port, ...env } = process.env;
const children = new Map();
let exitCode = 0;
let stopping = false;

function start(name, service, args, extraEnv = {}) {
  const child = spawn(process.execPath, [entry(service), ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(name, child);
  for (const [from, to] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: from }).on('line', (line) => {
      to.write(`${name}: ${line}\n`);
      child.emit('output', line);
    });
  }
  child.on('exit', (code, signal) => {
    children.delete(name);
    const failed = code !== 0 && !(stopping && signal);
    if (failed && exitCode === 0) exitCode = code ?? 1;
    if (failed) stopAll();
    if (children.size === 0) process.exit(exitCode);
  });
  return child;
}

function stopAll(signal = 'SIGTERM') {
  stopping = true;
  for (const child of children.values()) child.kill(signal);
}

process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));

const aggregator = start('agg', 'aggregator', process.argv.slice(2));
aggregator.on('output', (line) => {
  if (line.startsWith('Starting aggregating consumer') && !children.has('avg') && !stopping) {
    start('avg', 'averages', [], process.stdout.isTTY ? { FORCE_COLOR: '1' } : {});
  }
});
