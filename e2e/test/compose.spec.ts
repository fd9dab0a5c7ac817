import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from '@temps/testing';
import { parse } from 'yaml';

const root = workspaceRoot();
const read = (file: string) => readFileSync(join(root, file), 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string; args: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

/** The compose file as docker-compose itself resolves it (anchors merged, variables interpolated). */
function resolvedCompose(env: NodeJS.ProcessEnv = {}) {
  const output = execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  return parse(output) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
}

const APPS = { producer: '3001', aggregator: '3002', averages: '3003' } as const;

/** Variables each service reads, found in its sources and the libraries it is built from. */
function readsVariable(service: string, name: string): boolean {
  const grep = spawnSync(
    'grep',
    ['-rqE', `\\b${name}\\b`, `services/${service}/src`, 'libs/redis/src', 'libs/runtime/src'],
    { cwd: root },
  );
  return grep.status === 0;
}

describe('docker-compose.yml', () => {
  const compose = resolvedCompose();

  it('is valid for docker-compose with no environment at all', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'aggregator',
      'averages',
      'grafana',
      'postgres',
      'producer',
      'prometheus',
      'redis',
    ]);
    const check = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
      cwd: root,
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    expect([check.status, check.stderr]).toEqual([0, '']);
  });

  it('lets anyone watch Grafana read-only; the admin password comes from GRAFANA_ADMIN_PASSWORD when set', () => {
    const grafana = compose.services.grafana.environment ?? {};
    expect(grafana.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(grafana.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    // Empty: Grafana ignores an empty GF_ variable and keeps its own first-login flow.
    expect(grafana.GF_SECURITY_ADMIN_PASSWORD).toBe('');
    const set = resolvedCompose({ GRAFANA_ADMIN_PASSWORD: 'from-the-environment' });
    expect(set.services.grafana.environment?.GF_SECURITY_ADMIN_PASSWORD).toBe(
      'from-the-environment',
    );
  });

  const PORT_VARIABLES = {
    redis: ['TEMPS_REDIS_PORT', '6379'],
    postgres: ['TEMPS_POSTGRES_PORT', '5433'],
    // A range, so that `--scale producer=N` gives each replica a port of its own.
    producer: ['TEMPS_PRODUCER_PORT', '3001-3009'],
    aggregator: ['TEMPS_AGGREGATOR_PORT', '3002'],
    averages: ['TEMPS_AVERAGES_PORT', '3003'],
    prometheus: ['TEMPS_PROMETHEUS_PORT', '9090'],
    grafana: ['TEMPS_GRAFANA_PORT', '3000'],
  } as const;

  it('moves every published host port by one variable each, with the usual ports as defaults', () => {
    const moved = resolvedCompose(
      Object.fromEntries(
        Object.values(PORT_VARIABLES).map(([name], i) => [name, String(41000 + i)]),
      ),
    );
    Object.entries(PORT_VARIABLES).forEach(([service, [variable, port]], i) => {
      const host = (ports: string[] = []) => ports.map((p) => p.split(':').slice(0, 2).join(':'));
      expect([service, host(compose.services[service].ports)]).toEqual([
        service,
        [`127.0.0.1:${port}`],
      ]);
      expect([service, host(moved.services[service].ports)]).toEqual([
        service,
        [`127.0.0.1:${41000 + i}`],
      ]);
      expect(read('README.md')).toContain(variable);
    });
  });

  it.each(Object.entries(APPS))(
    'wires %s: image, health, port, dependencies, restarts, environment',
    (name, port) => {
      const service = compose.services[name];
      expect(service.build?.args.SERVICE).toBe(name);
      expect(service.environment?.PORT).toBe(port);
      expect(service.ports).toEqual([
        expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:\\d+(-\\d+)?:${port}(/tcp)?$`)),
      ]);
      expect(service.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${port}/health`);
      expect(service.depends_on?.redis.condition).toBe('service_healthy');
      expect(service.restart).toBe('unless-stopped');
      expect(service.environment?.REDIS_URL).toBe('redis://redis:6379');
      for (const variable of Object.keys(service.environment ?? {})) {
        expect([variable, readsVariable(name, variable)]).toEqual([variable, true]);
        expect(read('README.md')).toContain(variable);
      }
    },
  );

  it('runs the producer forever and resuming, at 360x from 2025-01-01 with the seed passed through; the aggregator from the oldest partition', () => {
    const { producer, aggregator } = compose.services;
    expect(producer.command).toEqual(['--follow', '--resume']);
    expect(producer.environment).toEqual(
      expect.objectContaining({ PRODUCER_SPEED: '360', PRODUCER_START: '2025-01-01' }),
    );
    expect(producer.environment?.PRODUCER_SEED ?? null).toBeNull();
    expect(
      resolvedCompose({ PRODUCER_SEED: '77' }).services.producer.environment?.PRODUCER_SEED,
    ).toBe('77');
    expect(aggregator.environment?.AGGREGATOR_FROM_OLDEST).toBe('true');
  });

  it('keeps Redis data in a volume with the append-only file on and the measured stream node settings', () => {
    const { redis } = compose.services;
    expect(redis.volumes?.some((v) => /^redis-data:\/data(:rw)?$/.test(v))).toBe(true);
    expect(redis.command).toEqual(
      expect.arrayContaining([
        '--appendonly',
        'yes',
        '--stream-node-max-entries',
        '1000',
        '--stream-node-max-bytes',
        '0',
        '--maxmemory-policy',
        'volatile-ttl',
      ]),
    );
    expect(redis.image).toMatch(/^redis:\d+\.\d+\.\d+/);
    expect(redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('publishes every port on 127.0.0.1 only, and pins every image tag', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? [])
        expect([name, port]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
      // PostgreSQL is pinned to its major version, which fixes the data directory's format; its
      // minor releases are fixes only. Every other image to its full version.
      const pin = name === 'postgres' ? /^postgres:\d+-bookworm$/ : /:v?\d+\.\d+\.\d+/;
      if (service.image) expect([name, service.image]).toEqual([name, expect.stringMatching(pin)]);
    }
  });

  it('mounts the Prometheus config and the Grafana provisioning that exist in the repository', () => {
    const mounts = [
      ...(compose.services.prometheus.volumes ?? []),
      ...(compose.services.grafana.volumes ?? []),
    ];
    const files = mounts.map((m) => m.split(':')[0]).filter((source) => source.startsWith('/'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) expect([file, existsSync(file)]).toEqual([file, true]);
  });

  it('points Prometheus at every replica of the three services, found by DNS on the ports they serve', () => {
    const config = parse(read('prometheus/prometheus.yml')) as {
      scrape_configs: {
        job_name: string;
        static_configs?: unknown;
        dns_sd_configs: { names: string[]; type: string; port: number }[];
      }[];
    };
    const found = Object.fromEntries(
      config.scrape_configs.map((job) => [
        job.job_name,
        job.dns_sd_configs.map((sd) => `${sd.type} ${sd.names.join(',')}:${sd.port}`),
      ]),
    );
    expect(found).toEqual({
      producer: ['A producer:3001'],
      aggregator: ['A aggregator:3002'],
      averages: ['A averages:3003'],
    });
    expect(config.scrape_configs.filter((job) => job.static_configs)).toEqual([]);
    expect(
      spawnSync('promtool', ['check', 'config', 'prometheus/prometheus.yml'], { cwd: root }).status,
    ).toBe(0);
  });

  it('passes PRODUCER_SHARDS through to the producers and both consumers alike, unset (the default layout) unless set', () => {
    // Passed through (no value in the file), as npm start does too: unset stays unset.
    for (const name of Object.keys(APPS))
      expect([name, compose.services[name].environment?.PRODUCER_SHARDS ?? null]).toEqual([
        name,
        null,
      ]);
    const lanes = resolvedCompose({ PRODUCER_SHARDS: '6', PRODUCER_DEVICES: '10' });
    for (const name of Object.keys(APPS))
      expect([name, lanes.services[name].environment?.PRODUCER_SHARDS]).toEqual([name, '6']);
    expect(lanes.services.producer.environment?.PRODUCER_DEVICES).toBe('10');
  });
});
