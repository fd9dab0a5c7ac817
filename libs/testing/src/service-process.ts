import { spawn, type ChildProcess } from 'node:child_process';
import { serviceEntry } from '@temps/runtime';

// The launcher runs the built services too, so these live with the runtime.
export { serviceEntry, workspaceRoot } from '@temps/runtime';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A real service process, with its output collected for assertions. */
export class ServiceProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Finished>;
  private readonly child: ChildProcess;

  /** `entry` overrides the service's built entry point (e.g. a copy laid out as in the image). */
  constructor(
    service: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    entry = serviceEntry(service),
  ) {
    this.child = spawn(process.execPath, [entry, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) =>
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }),
      ),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * The exit code once the process has ended, null while it runs — and also when a signal ended it
   * (Node's rule): use `running` to tell.
   */
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /** Whether the process has not ended yet (by exit or by signal). */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Finished> {
    this.child.kill(signal);
    return this.exited;
  }

  /** Resolves once stdout or stderr contains `text` (or matches it); rejects if the process exits first. */
  async waitFor(text: string | RegExp, timeoutMs = 30_000): Promise<void> {
    const seen = () =>
      typeof text === 'string'
        ? (this.stdout + this.stderr).includes(text)
        : text.test(this.stdout + this.stderr);
    const deadline = Date.now() + timeoutMs;
    let done = false;
    void this.exited.then(() => (done = true));
    while (!seen()) {
      if (done) throw new Error(`exited before printing ${text}:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${text}:\n${this.stdout}\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Runs a service to completion. */
export function runService(
  service: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<Finished> {
  return new ServiceProcess(service, args, env).exited;
}

/** Polls `probe` until it returns a truthy value. */
export async function eventually<T>(
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      const value = await probe();
      if (value) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
