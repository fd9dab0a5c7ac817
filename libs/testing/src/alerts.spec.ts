import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { dashboardPanels, readDashboard } from './dashboard';
import { workspaceRoot } from './service-process';

const root = workspaceRoot();
const read = (...path: string[]) => readFileSync(join(root, ...path), 'utf8');

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
  }[];
}

const RULES = join('prometheus', 'alerts.yml');
const TESTS = join('prometheus', 'alerts.test.yml');
const rules = (): AlertRule[] =>
  (parse(read(RULES)) as RuleFile).groups.flatMap((group) => group.rules);

/** Metrics the rules may name ahead of the services defining them (none today). */
const PLANNED_METRICS: string[] = [];

const PROMTOOL_MISSING =
  'promtool is not installed, so the alerting rules go untested: install it with ' +
  '`apt-get install -y prometheus` (Debian/Ubuntu; the package ships promtool)';

/** Runs promtool; a machine without it fails the test with how to install it, never skips it. */
function promtool(args: string[], cwd = root) {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (run.error) throw new Error(`${PROMTOOL_MISSING} (${run.error.message}).`);
  return { status: run.status, output: run.stdout + run.stderr };
}

/** Seconds of a Prometheus duration such as 1m, 90s or 1h30m. */
function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  const parts = [...duration.matchAll(/(\d+)(ms|s|m|h|d)/g)];
  if (parts.map((p) => p[0]).join('') !== duration) throw new Error(`bad duration ${duration}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0);
}

/** The GitHub anchor of a Markdown heading. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

describe('prometheus/alerts.yml', () => {
  const all = rules();

  it('passes promtool check rules', () => {
    const run = promtool(['check', 'rules', RULES]);
    expect({ status: run.status, output: run.output }).toEqual({
      status: 0,
      output: expect.any(String),
    });
  });

  it('passes its unit tests (promtool test rules prometheus/alerts.test.yml)', () => {
    const run = promtool(['test', 'rules', TESTS]);
    expect({ status: run.status, output: run.output }).toEqual({
      status: 0,
      output: expect.stringContaining('SUCCESS'),
    });
  });

  it('names each alert once, in CamelCase with the Temps prefix, as the mixins do', () => {
    const names = all.map((rule) => rule.alert);
    expect(names.length).toBeGreaterThanOrEqual(12);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((name) => !/^Temps(?:[A-Z][a-z0-9]+)+$/.test(name))).toEqual([]);
  });

  it.each(rules())(
    '$alert: a for of at least a minute, a severity, summary, description and runbook_url',
    (rule) => {
      expect(seconds(rule.for ?? '0s')).toBeGreaterThanOrEqual(60);
      expect(rule.labels).toEqual({ severity: expect.stringMatching(/^(warning|critical)$/) });
      expect(Object.keys(rule.annotations ?? {}).sort()).toEqual([
        'description',
        'runbook_url',
        'summary',
      ]);
      expect(rule.annotations!.summary).toMatch(/^[A-Z].*\.$/);
      expect(rule.annotations!.runbook_url).toBe(`docs/operations.md#${rule.alert.toLowerCase()}`);
    },
  );

  it('has a runbook section for every alert in docs/operations.md, and no other', () => {
    const operations = read('docs', 'operations.md');
    const runbook = operations.split(/^## Runbook\s*$/m)[1]?.split(/^## /m)[0] ?? '';
    const sections = [...runbook.matchAll(/^### (.+)$/gm)].map((m) => m[1].trim());
    expect(sections.sort()).toEqual(all.map((rule) => rule.alert).sort());
    // Each section says what it means, what to check and what to do.
    for (const section of runbook.split(/^### /m).slice(1)) {
      const name = section.split('\n', 1)[0];
      for (const part of ['Meaning', 'Check', 'Action'])
        expect([name, section.includes(`**${part}.**`)]).toEqual([name, true]);
    }
    // The anchors the runbook_urls name are these headings.
    for (const rule of all) expect(anchor(rule.alert)).toBe(rule.alert.toLowerCase());
  });

  it('lists every alert in docs/metrics.md with its severity and for', () => {
    const rows = new Map(
      [...read('docs', 'metrics.md').matchAll(/^\| `(Temps\w+)`\s*\|(.*)$/gm)].map((m) => [
        m[1],
        m[2].split('|').map((cell) => cell.trim()),
      ]),
    );
    for (const rule of all) {
      const row = rows.get(rule.alert);
      expect([rule.alert, row?.[0], row?.at(-2)]).toEqual([
        rule.alert,
        rule.labels?.severity,
        rule.for,
      ]);
    }
    expect([...rows.keys()].sort()).toEqual(all.map((rule) => rule.alert).sort());
  });

  it('names only metrics that the services define, or the planned ones it lists', () => {
    const sources = ['services', 'libs']
      .flatMap((dir) =>
        readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
          .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
          .filter((file) => !file.split(/[\\/]/).includes('node_modules'))
          .map((file) => read(dir, file)),
      )
      .join('\n');
    const unknown = all.flatMap((rule) =>
      [...rule.expr.matchAll(/\btemps_\w+/g)]
        .map((m) => m[0])
        .filter((name) => !sources.includes(`'${name}'`) && !PLANNED_METRICS.includes(name))
        .map((name) => `${rule.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});

describe('prometheus/alerts.test.yml', () => {
  const tests = (parse(read(TESTS)) as RuleTests).tests.flatMap((t) => t.alert_rule_test ?? []);

  it.each(rules().map((rule) => rule.alert))(
    '%s has a case that fires and a case that stays silent',
    (alert) => {
      const own = tests.filter((t) => t.alertname === alert);
      expect({ alert, firing: own.some((t) => t.exp_alerts.length > 0) }).toEqual({
        alert,
        firing: true,
      });
      expect({ alert, silent: own.some((t) => t.exp_alerts.length === 0) }).toEqual({
        alert,
        silent: true,
      });
    },
  );

  // The tests can fail: an alert that never fires breaks its firing case, and one that always
  // fires breaks its silent cases.
  describe.each([
    ['never fires', 'vector(1) == 0'],
    ['always fires', 'vector(1)'],
  ])('with one alert that %s', (_, expr) => {
    it.each(rules().map((rule) => rule.alert))('%s fails its tests', (alert) => {
      const dir = mkdtempSync(join(tmpdir(), 'temps-alerts-'));
      try {
        const file = parse(read(RULES)) as RuleFile;
        for (const group of file.groups)
          for (const rule of group.rules) if (rule.alert === alert) rule.expr = expr;
        writeFileSync(join(dir, 'alerts.yml'), stringify(file));
        // Only the alert's own test groups, which is all that can fail, and quicker.
        const tests = parse(read(TESTS)) as RuleTests;
        tests.tests = tests.tests.filter((t) =>
          (t.alert_rule_test ?? []).some((c) => c.alertname === alert),
        );
        writeFileSync(join(dir, 'alerts.test.yml'), stringify(tests));
        const run = promtool(['test', 'rules', 'alerts.test.yml'], dir);
        expect({ status: run.status, names: run.output.includes(`alertname: ${alert}`) }).toEqual({
          status: 1,
          names: true,
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('loading the rules', () => {
  it('prometheus.yml loads alerts.yml, and compose mounts it beside prometheus.yml', () => {
    const config = parse(read('prometheus', 'prometheus.yml')) as { rule_files?: string[] };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const compose = parse(read('docker-compose.yml')) as {
      services: { prometheus: { command: string[]; volumes: string[] } };
    };
    const { command, volumes } = compose.services.prometheus;
    expect(command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    for (const file of config.rule_files!)
      expect(volumes).toContain(`./prometheus/${file}:/etc/prometheus/${file}:ro`);
  });
});

describe('the dashboard', () => {
  it('shows the firing alerts in one panel, with a value even while none fires', () => {
    const panels = dashboardPanels(readDashboard()).filter((panel) =>
      (panel.targets ?? []).some((target) => /\bALERTS\b/.test(target.expr ?? '')),
    );
    expect(panels.map((panel) => panel.title)).toEqual(['Alerts firing']);
    const [panel] = panels;
    expect(panel.type).toBe('stat');
    expect(panel.targets?.map((target) => target.expr?.replace(/\s+/g, ' ').trim())).toEqual([
      'sum by (alertname, severity) (ALERTS{alertstate="firing"}) or on() vector(0)',
    ]);
  });
});
