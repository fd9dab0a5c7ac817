import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, workspaceRoot } from '@temps/testing';
import { stringify } from 'yaml';

/** Whether 127.0.0.1:`port` can be bound right now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first of `count` consecutive free ports on 127.0.0.1 (for a published port range). */
export async function freePortRange(count: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const first = await freePort();
    if (first + count > 65_536) continue;
    const rest = await Promise.all(
      Array.from({ length: count - 1 }, (_, i) => bindable(first + 1 + i)),
    );
    if (rest.every(Boolean)) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** The variables that move each published host port (docker-compose.yml), by service. */
export const PORT_VARIABLES = {
  redis: 'TEMPS_REDIS_PORT',
  postgres: 'TEMPS_POSTGRES_PORT',
  producer: 'TEMPS_PRODUCER_PORT',
  aggregator: 'TEMPS_AGGREGATOR_PORT',
  averages: 'TEMPS_AVERAGES_PORT',
  prometheus: 'TEMPS_PROMETHEUS_PORT',
  grafana: 'TEMPS_GRAFANA_PORT',
} as const;

/**
 * The cluster stack (docker-compose.cluster.yml, laid over docker-compose.yml): `redis` becomes the
 * first of its six nodes, keeping TEMPS_REDIS_PORT; the other five publish their own port.
 */
export const CLUSTER_FILE = 'docker-compose.cluster.yml';
export const CLUSTER_PORT_VARIABLES = {
  'redis-node-2': 'TEMPS_REDIS_NODE_2_PORT',
  'redis-node-3': 'TEMPS_REDIS_NODE_3_PORT',
  'redis-node-4': 'TEMPS_REDIS_NODE_4_PORT',
  'redis-node-5': 'TEMPS_REDIS_NODE_5_PORT',
  'redis-node-6': 'TEMPS_REDIS_NODE_6_PORT',
} as const;
export const CLUSTER_NODES = ['redis', ...Object.keys(CLUSTER_PORT_VARIABLES)] as ClusterNode[];
/** The one-shot service that creates the cluster (or introduces its nodes again) on every up. */
export const CLUSTER_CREATE = 'redis-cluster';

export type ClusterNode = 'redis' | keyof typeof CLUSTER_PORT_VARIABLES;
export type ServiceName =
  keyof typeof PORT_VARIABLES | keyof typeof CLUSTER_PORT_VARIABLES | typeof CLUSTER_CREATE;
export const APP_SERVICES = ['producer', 'aggregator', 'averages'] as const;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `docker compose` when the plugin is there, else Compose v1's `docker-compose`. */
function composeCommand(): string[] {
  return spawnSync('docker', ['compose', 'version'], { timeout: 20_000 }).status === 0
    ? ['docker', 'compose']
    : ['docker-compose'];
}

function run(command: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      command[0],
      command.slice(1),
      { cwd: workspaceRoot(), env, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** Runs the docker CLI against the engine at DOCKER_HOST (or the default socket). */
export async function docker(args: string[], timeoutMs = 60_000, env = process.env): Promise<Run> {
  const result = await run(['docker', ...args], env, timeoutMs);
  if (result.code !== 0)
    throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  return result;
}

/**
 * The project's own docker-compose.yml and Dockerfile under a private compose project name, with
 * every published port moved to a free one; with `{ cluster: true }`, docker-compose.cluster.yml
 * over it, as the README runs it. The only file of the test's own is an override that builds the
 * service images with the host's network (containers here have no way out; `npm ci` needs one).
 */
export class ComposeStack {
  readonly project: string;
  /** Each service's host port; the producer's is the first of its range. */
  readonly ports = {} as Record<keyof typeof PORT_VARIABLES, number> &
    Partial<Record<ServiceName, number>>;
  /** How many host ports the producer's range has (TEMPS_PRODUCER_PORT = first-last). */
  private producerPorts = 1;
  private readonly compose = composeCommand();
  private readonly scratch = mkdtempSync(join(tmpdir(), 'temps-compose-'));
  private readonly override = join(this.scratch, 'build-with-host-network.yml');

  /**
   * `name` tells two stacks of one test process apart (each is its own compose project); `cluster`
   * adds docker-compose.cluster.yml.
   */
  constructor(
    private readonly extraEnv: NodeJS.ProcessEnv = {},
    name = '',
    private readonly options: { cluster?: boolean } = {},
  ) {
    this.project = `temps-e2e-${process.pid}${name ? `-${name}` : ''}`;
    const build = (service: string) => ({
      build: { context: workspaceRoot(), network: 'host', args: { SERVICE: service } },
    });
    writeFileSync(
      this.override,
      stringify({ services: Object.fromEntries(APP_SERVICES.map((s) => [s, build(s)])) }),
    );
  }

  /** Free host ports for every service; `producerReplicas` consecutive ones for the producer. */
  async allocatePorts(producerReplicas = 1): Promise<void> {
    for (const service of Object.keys(PORT_VARIABLES) as ServiceName[])
      this.ports[service] = await freePort();
    this.producerPorts = producerReplicas;
    if (producerReplicas > 1) this.ports.producer = await freePortRange(producerReplicas);
    if (this.options.cluster)
      for (const node of Object.keys(CLUSTER_PORT_VARIABLES) as ClusterNode[])
        this.ports[node] = await freePort();
  }

  /** The host port a cluster node (or `redis`) publishes. */
  nodePort(node: ClusterNode): number {
    const port = this.ports[node];
    if (port === undefined) throw new Error(`no port allocated for ${node}`);
    return port;
  }

  /** What compose sees: PATH and the engine's address, the moved ports, and the test's extras. */
  env(): NodeJS.ProcessEnv {
    const ports = Object.fromEntries(
      Object.entries(PORT_VARIABLES).map(([service, name]) => [
        name,
        String(this.ports[service as ServiceName]),
      ]),
    );
    if (this.producerPorts > 1)
      ports[PORT_VARIABLES.producer] =
        `${this.ports.producer}-${this.ports.producer + this.producerPorts - 1}`;
    if (this.options.cluster)
      for (const [node, name] of Object.entries(CLUSTER_PORT_VARIABLES))
        ports[name] = String(this.nodePort(node as ClusterNode));
    const { PATH, HOME, DOCKER_HOST } = process.env;
    return { PATH, HOME, ...(DOCKER_HOST ? { DOCKER_HOST } : {}), ...ports, ...this.extraEnv };
  }

  /** Runs `docker compose -p <project> … <args>`; throws with its output unless it succeeds. */
  async composeRun(args: string[], timeoutMs = 120_000): Promise<Run> {
    const files = [
      '-f',
      'docker-compose.yml',
      ...(this.options.cluster ? ['-f', CLUSTER_FILE] : []),
      '-f',
      this.override,
    ];
    const result = await run(
      [...this.compose, '-p', this.project, ...files, ...args],
      this.env(),
      timeoutMs,
    );
    if (result.code !== 0)
      throw new Error(
        `${this.compose.join(' ')} ${args.join(' ')} failed (${result.code}):\n${result.stderr.slice(-4000)}`,
      );
    return result;
  }

  docker(args: string[], timeoutMs = 60_000): Promise<Run> {
    return docker(args, timeoutMs, this.env());
  }

  /** The ids of every container (replica) of `service`, running or not. */
  async containerIds(service: ServiceName): Promise<string[]> {
    return (await this.composeRun(['ps', '-q', service])).stdout.split('\n').filter(Boolean);
  }

  /** `healthy`, `starting`, `unhealthy` or the state, of the container `id`. */
  async containerHealth(id: string): Promise<string> {
    return (
      await this.docker([
        'inspect',
        '--format',
        '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}',
        id,
      ])
    ).stdout.trim();
  }

  async containerId(service: ServiceName): Promise<string> {
    const id = (await this.composeRun(['ps', '-q', service])).stdout.trim();
    if (!id) throw new Error(`no container for ${service}`);
    return id;
  }

  async inspect(service: ServiceName, format: string): Promise<string> {
    return (
      await this.docker(['inspect', '--format', format, await this.containerId(service)])
    ).stdout.trim();
  }

  /** `healthy`, `starting`, `unhealthy`, or the container's state when it has no healthcheck. */
  async health(service: ServiceName): Promise<string> {
    return this.inspect(
      service,
      '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}',
    );
  }

  /** Everything the service's current container printed (stdout and stderr), without prefixes. */
  async logs(service: ServiceName): Promise<string> {
    const result = await this.docker(['logs', await this.containerId(service)]);
    return result.stdout + result.stderr;
  }

  async imageBytes(service: ServiceName): Promise<number> {
    const image = await this.inspect(service, '{{.Image}}');
    return Number((await this.docker(['image', 'inspect', '--format', '{{.Size}}', image])).stdout);
  }

  async hasImage(image: string): Promise<boolean> {
    return (await run(['docker', 'image', 'inspect', image], this.env(), 30_000)).code === 0;
  }

  /** Removes the project's containers, network and volumes, and the scratch folder. */
  async destroy(): Promise<void> {
    await this.composeRun(['down', '--volumes', '--remove-orphans', '--timeout', '5']).catch(
      (error: Error) => process.stderr.write(`${error.message}\n`),
    );
    rmSync(this.scratch, { recursive: true, force: true });
  }
}
