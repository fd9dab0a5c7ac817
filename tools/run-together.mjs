// Runs the built services as child processes side by side, each line of their output prefixed
// with a short name. SIGINT/SIGTERM stop them all; if one fails, the others are stopped too.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function serviceEntry(service) {
  return `${root}dist/${service}/services/${service}/src/main.js`;
}

/**
 * @param {{ name: string, service: string, args?: string[], env?: Record<string, string>,
 *           after?: { name: string, line: string } }[]} specs
 *   `after`: start only once that process has printed a line starting with `line`.
 * @param {{ env?: NodeJS.ProcessEnv, onExit?: (code: number) => void | Promise<void> }} options
 */
export function runTogether(
  specs,
  { env = process.env, onExit = (code) => process.exit(code) } = {},
) {
  const children = new Map();
  let exitCode = 0;
  let stopping = false;

  const stopAll = (signal = 'SIGTERM') => {
    stopping = true;
    for (const child of children.values()) child.kill(signal);
  };

  const start = (spec) => {
    const child = spawn(process.execPath, [serviceEntry(spec.service), ...(spec.args ?? [])], {
      env: { ...env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(spec.name, child);
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      createInterface({ input: from }).on('line', (line) => {
        to.write(`${spec.name}: ${line}\n`);
        for (const waiting of specs) {
          if (waiting.after?.name === spec.name && line.startsWith(waiting.after.line)) {
            if (!children.has(waiting.name) && !stopping) start(waiting);
          }
        }
      });
    }
    child.on('exit', (code, signal) => {
      children.delete(spec.name);
      const failed = code !== 0 && !(stopping && signal);
      if (failed && exitCode === 0) exitCode = code ?? 1;
      if (failed) stopAll();
      if (children.size === 0) void onExit(exitCode);
    });
  };

  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  specs.filter((spec) => !spec.after).forEach(start);
}
