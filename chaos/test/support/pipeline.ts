import { ServiceProcess, freePort, type Finished, type SimulatedRun } from '@temps/testing';

export type Service = 'producer' | 'aggregator' | 'averages';
export const SERVICES: Service[] = ['producer', 'aggregator', 'averages'];

const LINE = /Average temperature for (\S+) at (\d+) was (\d+)F \((\d+) observations\)\./g;
const MISSED = /Missed (\d+) hourly averages?/g;

/** The scale of the suite: `short` inside `npm test`, `full` for `npm run test:chaos`. */
export const FULL = process.env.CHAOS_PROFILE === 'full';

export const JAN_1_2025 = Date.UTC(2025, 0, 1);

/** Waits `min` ms, or a random time between `min` and `max`. */
export const pause = (min: number, max = min) =>
  new Promise((resolve) => setTimeout(resolve, min + Math.random() * (max - min)));

export function producerArgs(run: SimulatedRun): string[] {
  return [
    '--start',
    new Date(run.startMs).toISOString().slice(0, 10),
    '--days',
    String(run.days),
    '--devices',
    String(run.devices),
    '--seed',
    String(run.seed),
    '--resume',
  ];
}

/**
 * The three services as real processes against one Redis, started as in the compose stack
 * (producer with --resume, aggregator from the oldest partition), so any of them can be killed
 * and started again at any moment. A process that ends without being told to is a crash: kept in
 * `crashes` with its output.
 */
export class Pipeline {
  readonly crashes: string[] = [];
  /** Every average line the readers printed, as `date hour average observations`. */
  readonly printed: string[] = [];
  /** Averages the readers said were trimmed before they read them. */
  missed = 0;
  private readonly running = new Map<Service, ServiceProcess>();
  private readonly stopping = new Set<ServiceProcess>();

  private constructor(
    readonly redisUrl: string,
    readonly run: SimulatedRun,
    readonly ports: Record<Service, number>,
    private readonly extraEnv: NodeJS.ProcessEnv,
  ) {}

  static async create(
    redisUrl: string,
    run: SimulatedRun,
    extraEnv: NodeJS.ProcessEnv = {},
  ): Promise<Pipeline> {
    const ports = { producer: 0, aggregator: await freePort(), averages: await freePort() };
    return new Pipeline(redisUrl, run, ports, extraEnv);
  }

  start(service: Service): ServiceProcess {
    const env = { REDIS_URL: this.redisUrl, ...this.extraEnv };
    const child =
      service === 'producer'
        ? new ServiceProcess('producer', producerArgs(this.run), env)
        : new ServiceProcess(service, [], {
            ...env,
            PORT: String(this.ports[service]),
            AGGREGATOR_FROM_OLDEST: 'true',
          });
    this.running.set(service, child);
    void child.exited.then((finished) => this.ended(service, child, finished));
    return child;
  }

  process(service: Service): ServiceProcess | undefined {
    return this.running.get(service);
  }

  /** Whether the service is running now (the producer ends by itself when its run is complete). */
  isRunning(service: Service): boolean {
    return this.running.get(service)?.exitCode === null;
  }

  async kill(service: Service, signal: NodeJS.Signals): Promise<Finished> {
    const child = this.running.get(service);
    if (!child) throw new Error(`${service} is not running`);
    this.stopping.add(child);
    // A frozen process would hold a SIGTERM until thawed (one that just ended needs nothing).
    try {
      process.kill(child.pid, 'SIGCONT');
    } catch {
      // Already gone.
    }
    return child.kill(signal);
  }

  /** The service's process is about to end by itself on purpose (not a crash). */
  expectEnd(service: Service): Promise<Finished> {
    const child = this.running.get(service);
    if (!child) throw new Error(`${service} is not running`);
    this.stopping.add(child);
    return child.exited;
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) a service's process: alive, connected, doing nothing. */
  freeze(service: Service, frozen: boolean): void {
    process.kill(this.running.get(service)!.pid, frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Stops everything still running with SIGTERM. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.running.entries()]
        .filter(([service]) => this.isRunning(service))
        .map(([service]) => this.kill(service, 'SIGTERM')),
    );
  }

  /** The tail of each running service's output, for a failure message. */
  describe(): string {
    return [...this.running]
      .map(
        ([service, child]) =>
          `${service}:\n${child.stdout.slice(-1_500)}${child.stderr.slice(-1_500)}`,
      )
      .join('\n');
  }

  async health(service: Service): Promise<number> {
    return fetch(`http://127.0.0.1:${this.ports[service]}/health`).then(
      (r) => r.status,
      () => 0,
    );
  }

  private ended(service: Service, child: ServiceProcess, finished: Finished): void {
    if (service === 'averages') {
      this.printed.push(...[...finished.stdout.matchAll(LINE)].map((m) => m.slice(1).join(' ')));
      this.missed += [...finished.stdout.matchAll(MISSED)].reduce((n, m) => n + Number(m[1]), 0);
    }
    const completed = service === 'producer' && finished.code === 0;
    if (!this.stopping.has(child) && !completed) {
      this.crashes.push(
        `${service} exited by itself (code ${finished.code}, signal ${finished.signal}):\n${finished.stdout.slice(-2_000)}\n${finished.stderr.slice(-2_000)}`,
      );
    }
  }
}
