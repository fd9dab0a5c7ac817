// Runs the built services as child processes side by side, each line of their output prefixed
// with a short name. SIGINT/SIGTERM stop them all. A process that ends by itself is named, with its
// exit code (or signal) and its last line on stderr; then, by the restart policy, it is started
// again after a back-off (`unless-stopped`, as docker compose does) or the others are stopped (`no`).
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

/**
 * What happens when a process ends without being asked to: `no` stops the others (for commands
 * whose arguments must not be applied twice, such as a consumer reset to a partition);
 * `unless-stopped` starts it again, as compose's restart policy of the same name does.
 */
export type RestartPolicy = 'no' | 'unless-stopped';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Called once all have exited, with the first failure's exit code (0 if none failed). */
  onExit?: (code: number) => void | Promise<void>;
  restart?: RestartPolicy;
  /** The prefix of the launcher's own lines. */
  label?: string;
  /** Restart back-off: the first wait, doubled after each restart up to `maxMs` (ms). */
  backoff?: { firstMs: number; maxMs: number };
}

/** A process that ran at least this long before it ended had been working: its back-off starts over. */
const RAN_WELL_MS = 10_000;

export function runTogether(
  specs: ProcessSpec[],
  {
    env = process.env,
    onExit = (code) => process.exit(code),
    restart = 'no',
    label = 'stack',
    backoff = { firstMs: 1_000, maxMs: 30_000 },
  }: RunOptions = {},
): void {
  const children = new Map<string, ChildProcess>();
  /** Restarts waiting for their back-off, by name. */
  const pending = new Map<string, NodeJS.Timeout>();
  /** The next back-off of each process that has ended (ms). */
  const nextWait = new Map<string, number>();
  let exitCode = 0;
  let stopping = false;
  let ended = false;

  const say = (line: string) => process.stderr.write(`${label}: ${line}\n`);

  const finishIfDone = () => {
    if (ended || children.size > 0 || pending.size > 0) return;
    ended = true;
    void onExit(exitCode);
  };

  const stopAll = (signal: NodeJS.Signals = 'SIGTERM') => {
    stopping = true;
    pending.forEach((timer) => clearTimeout(timer));
    pending.clear();
    for (const child of children.values()) child.kill(signal);
    finishIfDone();
  };

  const start = (spec: ProcessSpec) => {
    const child = spawn(process.execPath, [serviceEntry(spec.service), ...(spec.args ?? [])], {
      env: { ...env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const startedAt = Date.now();
    let lastError = '';
    children.set(spec.name, child);
    if (restart !== 'no') say(`started ${spec.name} (pid ${child.pid})`);
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ] as const) {
      createInterface({ input: from }).on('line', (line) => {
        to.write(`${spec.name}: ${line}\n`);
        if (from === child.stderr && line.trim()) lastError = line.trim();
        for (const waiting of specs) {
          if (waiting.after?.name === spec.name && line.startsWith(waiting.after.line)) {
            if (!children.has(waiting.name) && !pending.has(waiting.name) && !stopping) {
              start(waiting);
            }
          }
        }
      });
    }
    child.on('close', (code, signal) => {
      children.delete(spec.name);
      if (stopping) return finishIfDone();
      const how = signal ? `was ended by ${signal}` : `exited with code ${code}`;
      const why = lastError
        ? `its last line on stderr: ${lastError}`
        : 'it wrote nothing on stderr';
      if (restart === 'unless-stopped') {
        const ranWell = Date.now() - startedAt >= RAN_WELL_MS;
        const wait = ranWell ? backoff.firstMs : (nextWait.get(spec.name) ?? backoff.firstMs);
        nextWait.set(spec.name, Math.min(wait * 2, backoff.maxMs));
        say(`${spec.name} ${how} (${why}); starting it again in ${wait / 1000} s.`);
        pending.set(
          spec.name,
          setTimeout(() => {
            pending.delete(spec.name);
            if (!stopping) start(spec);
          }, wait),
        );
        return;
      }
      if (code !== 0) {
        say(`${spec.name} ${how} (${why}); stopping the others.`);
        if (exitCode === 0) exitCode = code ?? 1;
        stopAll();
      }
      finishIfDone();
    });
  };

  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  specs.filter((spec) => !spec.after).forEach(start);
}
