import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import {
  dashboardQueries,
  eventually,
  freePort,
  panelQueriesWithoutData,
  queryPrometheus,
  startPrivateRedis,
  workspaceRoot,
  warehousePanelSql,
  type PrivateRedis,
  type WarehousePanelRow,
} from '@temps/testing';
import { Warehouse, parseWarehouseUrl } from '@temps/warehouse';
import { Redis } from 'ioredis';
import { parse, stringify } from 'yaml';

const root = workspaceRoot();

interface Launched {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(command: string[], env: NodeJS.ProcessEnv): Launched {
  const child = spawn(command[0], command.slice(1), {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, output: () => output, exited };
}

async function healthy(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/health`).then(
    (r) => r.status === 200,
    () => false,
  );
}

async function closed(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/health/live`).then(
    () => false,
    () => true,
  );
}

describe('npm start: the local stack, scraped by Prometheus with the project configuration', () => {
  let redis: PrivateRedis;
  let stack: Launched;
  let prometheus: Launched;
  const scratch = mkdtempSync(join(tmpdir(), 'temps-e2e-'));
  let ports: Record<'producer' | 'aggregator' | 'averages', number>;
  let promPort: number;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    ports = {
      producer: await freePort(),
      aggregator: await freePort(),
      averages: await freePort(),
    };
    stack = launch([process.execPath, 'dist/tools/tools/src/stack.js'], {
      REDIS_URL: redis.url,
      STACK_WAREHOUSE_DIR: join(scratch, 'warehouse'),
      PRODUCER_PORT: String(ports.producer),
      AGGREGATOR_PORT: String(ports.aggregator),
      AVERAGES_PORT: String(ports.averages),
    });
    await eventually(
      async () => (await Promise.all(Object.values(ports).map(healthy))).every(Boolean),
      60_000,
    );

    // The project's prometheus.yml, its targets pointed at the local ports.
    const config = parse(readFileSync(join(root, 'prometheus/prometheus.yml'), 'utf8'));
    config.global.scrape_interval = '1s';
    for (const job of config.scrape_configs) {
      // Compose finds the containers by DNS; here each job is the one local process.
      delete job.dns_sd_configs;
      job.static_configs = [
        { targets: [`127.0.0.1:${ports[job.job_name as keyof typeof ports]}`] },
      ];
    }
    // Its rule files, which Prometheus reads relative to the config file, from the repository.
    config.rule_files = (config.rule_files ?? []).map((file: string) =>
      join(root, 'prometheus', file),
    );
    writeFileSync(join(scratch, 'prometheus.yml'), stringify(config));
    promPort = await freePort();
    prometheus = launch(
      [
        'prometheus',
        `--config.file=${join(scratch, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(scratch, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      {},
    );
  });

  afterAll(async () => {
    prometheus?.child.kill('SIGKILL');
    stack?.child.kill('SIGKILL');
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const query = (expr: string) => queryPrometheus(`http://127.0.0.1:${promPort}`, expr);

  it('runs the pipeline with output prefixed per service', async () => {
    const firstAverage = /^averages: Average temperature for 2025\/01\/01 at 0 was \d+F/m;
    await eventually(() => firstAverage.test(stack.output()), 30_000);
    expect(stack.output()).toContain('producer: Populating stream partition temps:20250101.');
    // The compose file's settings: a paced run at 360x.
    expect(await redis.client().hmget('producer_state', 'rate', 'paced')).toEqual(['360', '1']);
    expect(stack.output()).toContain(
      'aggregator: Starting aggregating consumer in stream temps:20250101 at message 0.',
    );
  });

  it('gives data for every query of every Grafana panel', async () => {
    await eventually(async () => (await query('up == 1')).length === 3, 60_000);
    expect(dashboardQueries().length).toBeGreaterThanOrEqual(10);
    expect(await panelQueriesWithoutData(`http://127.0.0.1:${promPort}`, 90_000)).toEqual([]);
  });

  it('loads every alerting rule of prometheus/alerts.yml, and none fires on a healthy stack', async () => {
    const expected = (
      parse(readFileSync(join(root, 'prometheus/alerts.yml'), 'utf8')) as {
        groups: { rules: { alert: string }[] }[];
      }
    ).groups
      .flatMap((group) => group.rules.map((rule) => rule.alert))
      .sort();
    const rules = async () => {
      const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/rules?type=alert`);
      const body = (await response.json()) as {
        data: { groups: { rules: { name: string; state: string; health: string }[] }[] };
      };
      return body.data.groups.flatMap((group) => group.rules);
    };
    await eventually(async () => (await rules()).length > 0, 30_000);
    const loaded = await rules();
    expect(loaded.map((rule) => rule.name).sort()).toEqual(expected);
    expect(loaded.filter((rule) => rule.health !== 'ok' && rule.health !== 'unknown')).toEqual([]);
    expect(loaded.filter((rule) => rule.state === 'firing').map((rule) => rule.name)).toEqual([]);
  });

  it('stops everything on Ctrl+C within a few seconds, leaving no process behind', async () => {
    const started = Date.now();
    stack.child.kill('SIGINT');
    expect(await stack.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const port of Object.values(ports)) expect(await closed(port)).toBe(true);
  });

  it('stored every hourly average once in its embedded warehouse, as the dashboard panel shows it', async () => {
    expect(stack.output()).toContain(
      `stack: warehouse: embedded PostgreSQL (PGlite) in ${join(scratch, 'warehouse')}`,
    );
    // The stack has stopped (above), so the warehouse folder is free to open.
    const warehouse = Warehouse.open(parseWarehouseUrl(`file://${join(scratch, 'warehouse')}`));
    let rows: WarehousePanelRow[];
    try {
      rows = (await sql.raw<WarehousePanelRow>(warehousePanelSql()).execute(warehouse.db)).rows;
    } finally {
      await warehouse.close();
    }
    const entries = await redis.client().xrange('temps:averages', '-', '+');
    expect(entries.length).toBeGreaterThan(0);
    // Every average on temps:averages is one row with its exact values, and no row is extra.
    const fields = (flat: string[]) =>
      Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
    const byHour = new Map(rows.map((row) => [new Date(row.time).getTime(), row]));
    expect(byHour.size).toBe(rows.length);
    const mismatched = entries.filter(([id, flat]) => {
      const row = byHour.get(Number(id.split('-')[0]));
      const f = fields(flat);
      return (
        !row ||
        String(row.average_temp_f) !== f.average_temp_f ||
        String(row.num_observations) !== f.num_observations ||
        row.mean_temp_f !== f.mean_temp_f
      );
    });
    expect(mismatched.map(([id]) => id)).toEqual([]);
    // Hours trimmed from the capped stream stay in the warehouse: one row per average since seq 1.
    expect(rows.length).toBe(Number(fields(entries[entries.length - 1][1]).seq));
  });
});

describe('npm start when a service ends', () => {
  it('names it with its exit code or signal and last stderr line, starts it again, and leaves the others running', async () => {
    const redis = await startPrivateRedis();
    const ports = {
      producer: await freePort(),
      aggregator: await freePort(),
      averages: await freePort(),
    };
    const stack = launch([process.execPath, 'dist/tools/tools/src/stack.js'], {
      REDIS_URL: redis.url,
      STACK_WAREHOUSE_DIR: mkdtempSync(join(tmpdir(), 'temps-e2e-warehouse-')),
      PRODUCER_PORT: String(ports.producer),
      AGGREGATOR_PORT: String(ports.aggregator),
      AVERAGES_PORT: String(ports.averages),
    });
    const pidOf = (name: string, nth = 0) =>
      [...stack.output().matchAll(new RegExp(`^stack: started ${name} \\(pid (\\d+)\\)$`, 'gm'))][
        nth
      ]?.[1];
    try {
      await eventually(
        async () => (await Promise.all(Object.values(ports).map(healthy))).every(Boolean),
        60_000,
      );
      const aggregator = Number(pidOf('aggregator'));
      const producer = pidOf('producer');
      // kill -9: no line of its own; the launcher says which one ended and how.
      process.kill(aggregator, 'SIGKILL');
      await eventually(() => pidOf('aggregator', 1), 10_000);
      expect(stack.output()).toMatch(
        /^stack: aggregator was ended by SIGKILL \(it wrote nothing on stderr\); starting it again in 1 s\.$/m,
      );
      await eventually(() => healthy(ports.aggregator), 30_000);
      // It resumed from its saved state: it did not start over.
      expect(stack.output().match(/Starting aggregating consumer/g)).toHaveLength(2);
      expect(pidOf('producer', 1)).toBeUndefined();
      expect(pidOf('producer')).toBe(producer);

      // One that exits with an error (its state is not a hash any more): its code and its last
      // line on stderr.
      await redis.client().set('producer_state', 'not a hash');
      await eventually(
        () =>
          /^stack: producer exited with code 1 \(its last line on stderr: producer: .+\); starting it again in \d+ s\.$/m.test(
            stack.output(),
          ),
        20_000,
      );

      // Ctrl+C still stops everything, a restart waiting included.
      stack.child.kill('SIGINT');
      expect(await stack.exited).toBe(0);
      for (const port of Object.values(ports)) expect(await closed(port)).toBe(true);
    } finally {
      stack.child.kill('SIGKILL');
      await redis.stop();
    }
  });
});

describe('npm start without REDIS_URL', () => {
  it('starts a private redis-server when none answers, and stops it with the stack', async () => {
    const unused = await freePort();
    const ports = [await freePort(), await freePort(), await freePort()];
    const stack = launch([process.execPath, 'dist/tools/tools/src/stack.js'], {
      STACK_LOCAL_REDIS_URL: `redis://127.0.0.1:${unused}`,
      STACK_WAREHOUSE_DIR: mkdtempSync(join(tmpdir(), 'temps-e2e-warehouse-')),
      PRODUCER_PORT: String(ports[0]),
      AGGREGATOR_PORT: String(ports[1]),
      AVERAGES_PORT: String(ports[2]),
    });
    try {
      await eventually(
        () => /started a private redis-server at (redis:\S+)/.test(stack.output()),
        20_000,
      );
      const url = /started a private redis-server at (redis:\S+)/.exec(stack.output())![1];
      await eventually(async () => (await Promise.all(ports.map(healthy))).every(Boolean), 60_000);
      // Started with the compose file's Redis options.
      const own = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        expect(await own.config('GET', 'stream-node-max-entries')).toEqual([
          'stream-node-max-entries',
          '1000',
        ]);
        expect(await own.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      } finally {
        own.disconnect();
      }
      stack.child.kill('SIGINT');
      expect(await stack.exited).toBe(0);
      const port = Number(new URL(url).port);
      await eventually(() => fetchRedisGone(port), 5_000);
    } finally {
      stack.child.kill('SIGKILL');
    }
  });

  it('says what to install when there is no Redis at all', async () => {
    const unused = await freePort();
    const stack = launch([process.execPath, 'dist/tools/tools/src/stack.js'], {
      STACK_LOCAL_REDIS_URL: `redis://127.0.0.1:${unused}`,
      PATH: mkdtempSync(join(tmpdir(), 'temps-empty-path-')),
    });
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain('install redis-server');
  });
});

/** True once nothing accepts connections on the port. */
async function fetchRedisGone(port: number): Promise<boolean> {
  const { createConnection } = await import('node:net');
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}
