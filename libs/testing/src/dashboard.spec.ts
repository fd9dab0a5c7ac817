import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dashboardPanels,
  dashboardQueries,
  queriesOf,
  readDashboard,
  type Dashboard,
  type DashboardPanel,
} from './dashboard';
import { workspaceRoot } from './service-process';
import { WAREHOUSE_PANEL_TITLE, warehousePanelSql } from './warehouse-check';
import { parse, stringify } from 'yaml';

const root = workspaceRoot();
const read = (...path: string[]) => readFileSync(join(root, ...path), 'utf8');

/** Metrics the services expose (README "Metrics" and "The consumers"), plus Prometheus's own `up`. */
const SERVICE_METRICS = [
  'temps_readings_produced_total',
  'temps_producer_batches_total',
  'temps_producer_watermark_seconds',
  'temps_stream_length',
  'temps_stream_ttl_seconds',
  'temps_stream_memory_bytes',
  'temps_redis_memory_used_bytes',
  'temps_redis_up',
  'temps_readings_aggregated_total',
  'temps_readings_rejected_total',
  'temps_averages_written_total',
  'temps_partitions_skipped_total',
  'temps_partial_hours_total',
  'temps_aggregator_partition',
  'temps_aggregator_lag_seconds',
  'temps_aggregator_headroom_seconds',
  'temps_hourly_average_fahrenheit',
  'temps_averages_read_total',
  'temps_averages_missed_total',
  'temps_averages_malformed_total',
  'temps_warehouse_rows_written_total',
  'temps_warehouse_lag_hours',
  'temps_warehouse_missed_total',
  'temps_warehouse_write_errors_total',
  'temps_warehouse_set_aside_total',
  'temps_producer_lanes_held',
  'temps_aggregator_lane_lag_seconds',
  'temps_redis_node_used_memory_bytes',
  'temps_redis_node_stream_entries',
];
/** Node.js default metrics (prom-client, prefix temps_) the dashboard may use. */
const DEFAULT_METRICS = ['temps_process_start_time_seconds', 'temps_process_resident_memory_bytes'];
/** Prometheus's own series: `up` per target, `ALERTS` per pending or firing alert (alerts.yml). */
const KNOWN_METRICS = new Set([...SERVICE_METRICS, ...DEFAULT_METRICS, 'up', 'ALERTS']);
/** Read from Redis at scrape time by every service: identical copies, so always aggregated. */
const SHARED_METRICS = [
  'temps_stream_length',
  'temps_stream_ttl_seconds',
  'temps_stream_memory_bytes',
  'temps_redis_memory_used_bytes',
  'temps_redis_up',
  'temps_aggregator_headroom_seconds',
  'temps_redis_node_used_memory_bytes',
  'temps_redis_node_stream_entries',
];

const PROMQL_FUNCTIONS = new Set(
  (
    'sum min max avg count group stddev stdvar topk bottomk quantile count_values ' +
    'rate irate increase delta idelta deriv changes resets vector scalar time timestamp absent ' +
    'absent_over_time avg_over_time min_over_time max_over_time sum_over_time count_over_time ' +
    'last_over_time abs ceil floor round clamp clamp_min clamp_max sort sort_desc ' +
    'histogram_quantile label_replace label_join'
  ).split(' '),
);
const PROMQL_KEYWORDS = new Set(
  'by without on ignoring group_left group_right and or unless bool offset'.split(' '),
);

/**
 * The metric names an expression selects: string literals, label matchers, range durations and
 * grouping label lists are dropped; the identifiers left are functions, keywords or metrics.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1');
  const names: string[] = [];
  for (const match of bare.matchAll(/(?<![\w.])[A-Za-z_:][\w:]*/g)) {
    const word = match[0];
    const calls = /^\s*\(/.test(bare.slice(match.index + word.length));
    if (PROMQL_FUNCTIONS.has(word) || PROMQL_KEYWORDS.has(word)) continue;
    if (calls) throw new Error(`unknown PromQL function ${word} in ${expr}`);
    names.push(word);
  }
  return names;
}

/** Brackets balance and nest properly, and every double quote is closed. */
function balanced(expr: string): boolean {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  if (bare.replace(/""/g, '').includes('"')) return false;
  const open: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const c of bare) {
    if ('([{'.includes(c)) open.push(c);
    else if (c in pairs && open.pop() !== pairs[c]) return false;
  }
  return open.length === 0;
}

const normalize = (expr: string) => expr.replace(/\s+/g, ' ').trim();
const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' };
const WAREHOUSE = { type: 'grafana-postgresql-datasource', uid: 'warehouse' };

describe('grafana/dashboards/temps.json', () => {
  const dashboard = readDashboard();
  const all = dashboardPanels(dashboard);
  /** Panels over Prometheus; the warehouse panel queries PostgreSQL. */
  const panels = all.filter(
    (panel) => panel.type !== 'row' && panel.title !== WAREHOUSE_PANEL_TITLE,
  );
  const queries = dashboardQueries();

  it('is the "temps" dashboard', () => {
    expect(dashboard).toMatchObject({
      uid: 'temps',
      title: 'Temperature streams',
      schemaVersion: 39,
      refresh: '5s',
      time: { from: 'now-15m' },
      tags: ['temps'],
    });
    expect(panels.length).toBeGreaterThanOrEqual(14);
  });

  it('queries Prometheus, with a title and at least one expression, in every panel', () => {
    for (const panel of panels) {
      const where = `panel ${panel.id} ${panel.title}`;
      expect({ where, title: panel.title?.trim() }).toEqual({ where, title: expect.any(String) });
      expect(panel.title!.trim()).not.toBe('');
      expect({ where, datasource: panel.datasource }).toEqual({ where, datasource: PROMETHEUS });
      const targets = panel.targets ?? [];
      expect({ where, targets: targets.length }).not.toEqual({ where, targets: 0 });
      for (const target of targets) {
        expect({ where, expr: target.expr?.trim() }).toEqual({ where, expr: expect.any(String) });
        expect(target.expr!.trim()).not.toBe('');
        expect({ where, refId: target.refId }).toEqual({ where, refId: expect.any(String) });
        if (target.datasource) expect(target.datasource).toEqual(PROMETHEUS);
      }
      const refIds = targets.map((target) => target.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      expect({ where, unit: panel.fieldConfig?.defaults?.unit }).toEqual({
        where,
        unit: expect.any(String),
      });
    }
  });

  it('shows the warehouse table in one panel over the provisioned PostgreSQL datasource', () => {
    const panel = all.find((p) => p.title === WAREHOUSE_PANEL_TITLE)!;
    expect(panel).toMatchObject({ type: 'table', datasource: WAREHOUSE });
    expect(panel.targets).toEqual([
      expect.objectContaining({ refId: 'A', datasource: WAREHOUSE, format: 'table' }),
    ]);
    const sql = warehousePanelSql();
    // Every hour however long ago: no dashboard time filter, no LIMIT; one row per table row.
    expect(sql).toMatch(/\bFROM hourly_averages\b/);
    expect(sql).not.toMatch(/\$__|\bLIMIT\b|\bGROUP BY\b|\bJOIN\b/i);
    for (const column of ['average_temp_f', 'num_observations', 'mean_temp_f'])
      expect(sql).toContain(column);
    const provisioned = parse(read('grafana', 'provisioning', 'datasources', 'warehouse.yml'));
    expect(provisioned.datasources).toEqual([
      expect.objectContaining({
        ...WAREHOUSE,
        url: 'postgres:5432',
        secureJsonData: { password: '$TEMPS_POSTGRES_PASSWORD' },
      }),
    ]);
  });

  it('gives every panel its own id', () => {
    const ids = all.map((panel) => panel.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays the panels out on the 24-column grid without overlaps', () => {
    const boxes = all.map((panel) => ({ title: panel.title, ...panel.gridPos! }));
    for (const box of boxes) {
      expect(box).toEqual({
        title: box.title,
        x: expect.any(Number),
        y: expect.any(Number),
        w: expect.any(Number),
        h: expect.any(Number),
      });
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.w).toBeGreaterThan(0);
      expect(box.h).toBeGreaterThan(0);
      expect(box.x + box.w).toBeLessThanOrEqual(24);
    }
    const overlaps: string[] = [];
    boxes.forEach((a, i) =>
      boxes.slice(i + 1).forEach((b) => {
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        if (!apart) overlaps.push(`${a.title} / ${b.title}`);
      }),
    );
    expect(overlaps).toEqual([]);
  });

  it('writes balanced PromQL', () => {
    const unbalanced = queries.filter(({ expr }) => !balanced(expr));
    expect(unbalanced).toEqual([]);
  });

  it('names only metrics the services expose (a typo fails)', () => {
    const unknown = queries.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => !KNOWN_METRICS.has(name))
        .map((name) => `${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
    expect(metricNames('rate(temps_readings_prodcued_total[1m])')).toEqual([
      'temps_readings_prodcued_total',
    ]);
    expect(metricNames('max by (stream) (temps_stream_length{stream=~"temps:[0-9]+"})')).toEqual([
      'temps_stream_length',
    ]);
    expect(
      metricNames(
        'sum by (reason) (increase(temps_readings_rejected_total[5m])) or on() vector(0)',
      ),
    ).toEqual(['temps_readings_rejected_total']);
  });

  it('aggregates the gauges every service exports alike, so one stopped service does not matter', () => {
    const plain = queries.filter(
      ({ expr }) =>
        metricNames(expr).some((name) => SHARED_METRICS.includes(name)) &&
        !/^(max|min)(\s+by\s*\([^)]*\))?\s*\(/.test(normalize(expr)),
    );
    expect(plain).toEqual([]);
  });

  it('lists only metric names that the services and libraries define', () => {
    const sources = ['services', join('libs', 'metrics')].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
        .filter((file) => !file.split(/[\\/]/).includes('node_modules'))
        .map((file) => read(dir, file)),
    );
    const undefinedNames = SERVICE_METRICS.filter(
      (name) => !sources.some((source) => source.includes(`'${name}'`)),
    );
    expect(undefinedNames).toEqual([]);
    expect(
      sources.some((source) => /collectDefaultMetrics\([^)]*prefix: 'temps_'/.test(source)),
    ).toBe(true);
  });

  const topics: {
    topic: string;
    title: RegExp;
    type: string;
    unit?: string;
    exprs: string[];
    /** The legend of the (single) target, where the panel has one series per label value. */
    legend?: string;
  }[] = [
    {
      topic: 'readings per second',
      title: /produced.*aggregated.*per second/i,
      type: 'timeseries',
      unit: 'ops',
      exprs: [
        'rate(temps_readings_produced_total[1m])',
        'rate(temps_readings_aggregated_total[1m])',
      ],
    },
    {
      topic: 'partition lengths',
      title: /partition lengths/i,
      type: 'timeseries',
      // Day partitions, and with lanes each lane's (temps:YYYYMMDD:{tag}); not temps:averages.
      exprs: ['max by (stream) (temps_stream_length{stream=~"temps:[0-9]+(:.+)?"})'],
    },
    {
      topic: 'temps:averages length',
      title: /temps:averages length/i,
      type: 'timeseries',
      exprs: ['max(temps_stream_length{stream="temps:averages"})'],
    },
    {
      topic: 'partition TTLs',
      title: /partition ttl/i,
      type: 'timeseries',
      unit: 's',
      exprs: ['max by (stream) (temps_stream_ttl_seconds)'],
    },
    {
      topic: 'memory per stream',
      title: /memory per stream/i,
      type: 'timeseries',
      unit: 'bytes',
      exprs: ['max by (stream) (temps_stream_memory_bytes)'],
    },
    {
      topic: 'Redis memory',
      title: /redis memory/i,
      type: 'timeseries',
      unit: 'bytes',
      exprs: ['max(temps_redis_memory_used_bytes)'],
    },
    {
      topic: 'aggregator lag',
      title: /aggregator lag/i,
      type: 'timeseries',
      unit: 's',
      exprs: ['temps_aggregator_lag_seconds'],
    },
    {
      topic: 'hourly average over time',
      title: /hourly average temperature/i,
      type: 'timeseries',
      unit: 'fahrenheit',
      exprs: ['temps_hourly_average_fahrenheit'],
    },
    {
      topic: 'latest hourly average',
      title: /latest hourly average/i,
      type: 'stat',
      unit: 'fahrenheit',
      exprs: ['temps_hourly_average_fahrenheit'],
    },
    {
      topic: 'service health',
      title: /service health/i,
      type: 'stat',
      exprs: ['up{job=~"producer|aggregator|averages"}'],
    },
    {
      topic: 'restarts',
      title: /restarts/i,
      type: 'stat',
      exprs: ['max by (service) (changes(temps_process_start_time_seconds[1h]))'],
    },
    {
      topic: 'readings rejected',
      title: /rejected.*reason/i,
      type: 'timeseries',
      exprs: ['sum by (reason) (increase(temps_readings_rejected_total[5m]))'],
    },
    {
      topic: 'partitions skipped',
      title: /partitions skipped/i,
      type: 'timeseries',
      exprs: [
        'sum by (reason) (temps_partitions_skipped_total)',
        'sum by (reason) (temps_partial_hours_total)',
      ],
    },
    {
      topic: 'aggregator headroom',
      title: /headroom/i,
      type: 'timeseries',
      unit: 's',
      exprs: ['max(temps_aggregator_headroom_seconds)'],
    },
    {
      topic: 'readings per producer',
      title: /^readings per producer$/i,
      type: 'timeseries',
      unit: 'ops',
      exprs: ['sum by (instance) (rate(temps_readings_produced_total[1m]))'],
      legend: '{{instance}}',
    },
    {
      topic: 'lanes per producer',
      title: /^lanes per producer$/i,
      type: 'timeseries',
      unit: 'short',
      exprs: ['sum by (instance) (temps_producer_lanes_held)'],
      legend: '{{instance}}',
    },
    {
      topic: 'lane lag',
      title: /^lane lag$/i,
      type: 'timeseries',
      unit: 's',
      exprs: ['max by (lane) (temps_aggregator_lane_lag_seconds)'],
      legend: 'lane {{lane}}',
    },
    {
      topic: 'readings per Redis master',
      title: /^readings per redis master$/i,
      type: 'timeseries',
      unit: 'ops',
      // Partitions expire whole: only the rises of each master's count are readings written.
      exprs: [
        'max by (node) (avg_over_time(clamp_min(deriv(temps_redis_node_stream_entries[10s]), 0)[1m:5s]))',
      ],
      legend: '{{node}}',
    },
    {
      topic: 'memory per Redis master',
      title: /^memory per redis master$/i,
      type: 'timeseries',
      unit: 'bytes',
      exprs: ['max by (node) (temps_redis_node_used_memory_bytes)'],
      legend: '{{node}}',
    },
    {
      topic: 'averages read and missed',
      title: /averages read.*missed/i,
      type: 'timeseries',
      exprs: ['temps_averages_read_total', 'temps_averages_missed_total'],
    },
  ];

  it.each(topics)('has a panel on $topic', ({ title, type, unit, exprs, legend }) => {
    const matching = panels.filter((panel) => title.test(panel.title ?? ''));
    expect(matching.map((panel) => panel.title)).toHaveLength(1);
    const [panel] = matching;
    expect(panel.type).toBe(type);
    if (unit) expect(panel.fieldConfig?.defaults?.unit).toBe(unit);
    const panelExprs = (panel.targets ?? []).map((target) => normalize(target.expr ?? ''));
    expect(panelExprs).toEqual(expect.arrayContaining(exprs));
    if (legend) expect(panel.targets?.map((target) => target.legendFormat)).toEqual([legend]);
  });

  it('labels the health stat per job and maps 1 to a green UP and 0 to a red DOWN', () => {
    const health = panels.find((panel) => /service health/i.test(panel.title ?? ''))!;
    expect(health.targets?.[0]?.legendFormat).toBe('{{job}}');
    const { mappings } = (
      health as DashboardPanel & {
        fieldConfig: { defaults: { mappings: { options: Record<string, unknown> }[] } };
      }
    ).fieldConfig.defaults;
    const options = Object.assign({}, ...mappings.map((mapping) => mapping.options));
    expect(options).toMatchObject({
      '1': { text: 'UP', color: 'green' },
      '0': { text: 'DOWN', color: 'red' },
    });
  });
});

describe('queriesOf', () => {
  it('finds the expressions of panels nested in rows', () => {
    const dashboard: Dashboard = {
      panels: [
        { id: 1, type: 'timeseries', title: 'top', targets: [{ refId: 'A', expr: 'up' }] },
        {
          id: 2,
          type: 'row',
          title: 'collapsed',
          panels: [
            {
              id: 3,
              type: 'stat',
              title: 'nested',
              targets: [{ refId: 'A', expr: 'temps_redis_up' }, { refId: 'B' }],
            },
          ],
        },
      ],
    };
    expect(queriesOf(dashboard)).toEqual([
      { panel: 'top', expr: 'up' },
      { panel: 'nested', expr: 'temps_redis_up' },
    ]);
  });
});

describe('grafana provisioning', () => {
  it('provisions the Prometheus datasource under the uid the panels use', () => {
    const file = read('grafana', 'provisioning', 'datasources', 'prometheus.yml');
    const field = (key: string) =>
      new RegExp(`^\\s*-?\\s*${key}:\\s*(\\S+)\\s*$`, 'm').exec(file)?.[1];
    expect({
      name: field('name'),
      type: field('type'),
      uid: field('uid'),
      url: field('url'),
      isDefault: field('isDefault'),
      editable: field('editable'),
    }).toEqual({
      name: 'Prometheus',
      type: 'prometheus',
      uid: 'prometheus',
      url: 'http://prometheus:9090',
      isDefault: 'true',
      editable: 'false',
    });
    const uids = new Set(dashboardPanels(readDashboard()).map((panel) => panel.datasource?.uid));
    uids.delete(undefined);
    // Every panel's datasource is provisioned: Prometheus, and the warehouse for its one panel.
    expect([...uids].sort()).toEqual([field('uid'), 'warehouse']);
  });

  it('loads the JSON dashboards from /var/lib/grafana/dashboards into the folder "temps"', () => {
    const file = read('grafana', 'provisioning', 'dashboards', 'temps.yml');
    expect(file).toMatch(/^\s*-?\s*type:\s*file\s*$/m);
    expect(file).toMatch(/^\s*folder:\s*['"]?temps['"]?\s*$/m);
    expect(file).toMatch(/^\s*path:\s*\/var\/lib\/grafana\/dashboards\s*$/m);
  });
});

describe('prometheus/prometheus.yml', () => {
  const file = read('prometheus', 'prometheus.yml');

  it('scrapes every 5 s', () => {
    expect(file).toMatch(/^global:\s*\n(?:\s+.*\n)*?\s+scrape_interval:\s*5s\s*$/m);
  });

  it('finds the jobs producer, aggregator and averages by DNS on their compose service names, every replica', () => {
    const config = parse(file) as {
      scrape_configs: { job_name: string; dns_sd_configs?: Record<string, unknown>[] }[];
    };
    expect(
      Object.fromEntries(config.scrape_configs.map((job) => [job.job_name, job.dns_sd_configs])),
    ).toEqual({
      producer: [{ names: ['producer'], type: 'A', port: 3001, refresh_interval: '5s' }],
      aggregator: [{ names: ['aggregator'], type: 'A', port: 3002, refresh_interval: '5s' }],
      averages: [{ names: ['averages'], type: 'A', port: 3003, refresh_interval: '5s' }],
    });
  });
});

const PROMTOOL_MISSING =
  'promtool is not installed, so the Prometheus config and the dashboard queries go unchecked: ' +
  'install it with `apt-get install -y prometheus` (Debian/Ubuntu; the package ships promtool)';

/** Runs promtool; a machine without it fails the test with how to install it, never skips it. */
function promtool(args: string[], cwd = root) {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (run.error) throw new Error(`${PROMTOOL_MISSING} (${run.error.message}).`);
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('promtool', () => {
  it('is installed', () => {
    expect(promtool(['--version'])).toMatchObject({ status: 0 });
  });

  it('accepts prometheus/prometheus.yml', () => {
    expect(promtool(['check', 'config', 'prometheus/prometheus.yml'])).toMatchObject({
      status: 0,
    });
  });

  it('reads the write rate per master from the entry counts, a partition expiring or not', () => {
    // Day partitions expire whole, so a master's entry count drops by a day of readings now and
    // then. Two services export the same count (max by node); 10 readings/s on one master, whose
    // count drops by 2,000 at 2m (an expiry, 50 readings written in that scrape too); 2/s on the
    // other. Samples every 5 s, as prometheus.yml scrapes.
    const { expr } = dashboardQueries().find((q) => q.panel === 'Readings per Redis master')!;
    const dir = mkdtempSync(join(tmpdir(), 'temps-dashboard-'));
    const rule = 'dashboard:readings_per_master';
    const sample = (node: string, value: number) => ({
      labels: `${rule}{node="${node}"}`,
      value,
    });
    try {
      writeFileSync(
        join(dir, 'rules.yml'),
        stringify({ groups: [{ name: 'dashboard', rules: [{ record: rule, expr }] }] }),
      );
      const entries = (node: string, service: string) =>
        `temps_redis_node_stream_entries{node="${node}",service="${service}"}`;
      writeFileSync(
        join(dir, 'test.yml'),
        stringify({
          rule_files: ['rules.yml'],
          evaluation_interval: '5s',
          tests: [
            {
              interval: '5s',
              input_series: [
                { series: entries('10.0.0.2:6379', 'producer'), values: '5000+50x23 3200+50x24' },
                { series: entries('10.0.0.2:6379', 'aggregator'), values: '5000+50x23 3200+50x24' },
                { series: entries('10.0.0.3:6379', 'producer'), values: '100+10x47' },
              ],
              promql_expr_test: [
                // A steady minute: the write rates.
                {
                  expr: rule,
                  eval_time: '1m30s',
                  exp_samples: [sample('10.0.0.2:6379', 10), sample('10.0.0.3:6379', 2)],
                },
                // The minute with the expiry: no dip below zero, only the two steps whose window
                // spans the drop are left out (2 of 13 steps here: the samples fall on the steps).
                {
                  expr: rule,
                  eval_time: '2m30s',
                  exp_samples: [
                    sample('10.0.0.2:6379', (10 * 11) / 13),
                    sample('10.0.0.3:6379', 2),
                  ],
                },
                // A minute after it: the write rate again.
                {
                  expr: rule,
                  eval_time: '3m55s',
                  exp_samples: [sample('10.0.0.2:6379', 10), sample('10.0.0.3:6379', 2)],
                },
              ],
            },
          ],
        }),
      );
      expect(promtool(['test', 'rules', 'test.yml'], dir)).toMatchObject({ status: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses every dashboard expression', () => {
    const dir = mkdtempSync(join(tmpdir(), 'temps-dashboard-'));
    try {
      const rules = [
        'groups:',
        '  - name: dashboard',
        '    rules:',
        ...dashboardQueries().flatMap(({ expr }, i) => [
          `      - record: dashboard:query_${i}`,
          `        expr: ${JSON.stringify(expr)}`,
        ]),
      ].join('\n');
      writeFileSync(join(dir, 'rules.yml'), rules + '\n');
      expect(promtool(['check', 'rules', join(dir, 'rules.yml')])).toMatchObject({ status: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
