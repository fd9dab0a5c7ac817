// Runs the built services as child processes side by side, each line of their output prefixed
// with a short name. SIGINT/SIGTERM stop them all; if one fails, the others are stopped too.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { serviceEntry } from '@temps/runtime';

export interface ProcessSpec {
  /** The prefix of its output lines. */
  name: string;
  /** The service whose built entry point runs (`dist/<service>/…/main.js`). */
  service: string;
  args?: string[];
  /** Added to the shared environment. */
  env?: Record<string, string>;
  /** Start only once that process has printed a line starting with `line`. */
  after?: { name: string; line: string };
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Called once all have exited, with the first failure's exit code (0 if none failed). */
  onExit?: (code: number) => void | Promise<void>;
}

export function runTogether(
  specs: ProcessSpec[],
  { env = process.env, onExit = (code) => process.exit(code) }: RunOptions = {},
): void {
  const children = new Map<string, ChildProcess>();
  let exitCode = 0;
  let stopping = false;

  const stopAll = (signal: NodeJS.Signals = 'SIGTERM') => {
    stopping = true;
    for (const child of children.values()) child.kill(signal);
  };

  const start = (spec: ProcessSpec) => {
    const child = spawn(process.execPath, [serviceEntry(spec.service), ...(spec.args ?? [])], {
      env: { ...env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(spec.name, child);
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ] as const) {
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
