#!/usr/bin/env node
// Runs the compose suite when a Docker engine answers. Without one it prints one line and passes,
// unless TEMPS_REQUIRE_DOCKER=1 (as in CI), which makes a missing engine a failure.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const required = ['1', 'true', 'yes'].includes(
  (process.env.TEMPS_REQUIRE_DOCKER ?? '').toLowerCase(),
);

function works(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  return result.status === 0
    ? ''
    : (result.error?.message ?? result.stderr.trim().split('\n')[0] ?? '');
}

const where = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
const engine = works('docker', ['version', '--format', '{{.Server.Version}}']);
const compose =
  works('docker', ['compose', 'version']) && works('docker-compose', ['version', '--short']);
const missing = engine
  ? `no Docker engine answers at ${where} (${engine})`
  : compose
    ? 'neither `docker compose` nor `docker-compose` is installed'
    : '';

if (missing) {
  if (required) {
    process.stderr.write(`e2e/compose: ${missing}, and TEMPS_REQUIRE_DOCKER is set.\n`);
    process.exit(1);
  }
  process.stdout.write(
    `e2e/compose skipped: ${missing}; set TEMPS_REQUIRE_DOCKER=1 to make that a failure.\n`,
  );
  process.exit(0);
}

const jest = spawnSync(
  process.execPath,
  [
    'node_modules/jest/bin/jest.js',
    '-c',
    'e2e/compose/jest.config.cjs',
    '--runInBand',
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(jest.status ?? 1);
