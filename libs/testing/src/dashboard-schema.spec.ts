import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readDashboard } from './dashboard';
import { GrafanaSchema } from './grafana-schema';
import { workspaceRoot } from './service-process';

const root = workspaceRoot();

/** The JSON of a dashboard or panel, loosely typed so that a test can spoil any part of it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** A deep copy of the provisioned dashboard for a test to spoil. */
const copy = (): Loose => structuredClone(readDashboard());
const panelTitled = (dashboard: Loose, title: string): Loose =>
  dashboard.panels.find((panel: { title: string }) => panel.title === title);

describe("grafana/dashboards/temps.json against Grafana's schema (@grafana/schema)", () => {
  let schema: GrafanaSchema;
  beforeAll(() => {
    schema = new GrafanaSchema();
  }, 60_000);

  it('is the schema of the Grafana that compose runs', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
      services: { grafana: { image: string } };
    };
    const pkg = JSON.parse(
      readFileSync(require.resolve('@grafana/schema/package.json', { paths: [root] }), 'utf8'),
    ) as { version: string };
    expect(compose.services.grafana.image).toBe(`grafana/grafana:${pkg.version}`);
  });

  it('uses only fields, panel types, options and field config that Grafana knows', () => {
    expect(schema.problems(readDashboard())).toEqual([]);
  });

  // Each spoils one thing in a copy of the real dashboard; the check names exactly that.
  const spoiled: [string, (d: Loose) => void, RegExp][] = [
    [
      'an unknown stat option',
      (d) => (panelTitled(d, 'Service health').options.colourMode = 'background'),
      /^panels\[0\]\(Service health\)\.options\.colourMode: not in Grafana's schema/,
    ],
    [
      'an option value Grafana does not know',
      (d) => (panelTitled(d, 'Alerts firing').options.graphMode = 'sparkline'),
      /^panels\[\d+\]\(Alerts firing\)\.options\.graphMode: "sparkline" is not one of "area", "line", "none"$/,
    ],
    [
      'an unknown timeseries legend option',
      (d) => (panelTitled(d, 'Aggregator lag').options.legend.position = 'bottom'),
      /\(Aggregator lag\)\.options\.legend\.position: not in Grafana's schema/,
    ],
    [
      'an unknown custom field option of a timeseries',
      (d) => (panelTitled(d, 'Partition lengths').fieldConfig.defaults.custom.fillOpactiy = 10),
      /\(Partition lengths\)\.fieldConfig\.defaults\.custom\.fillOpactiy: not in Grafana's schema/,
    ],
    [
      'a custom field option on a stat, which has none',
      (d) => (panelTitled(d, 'Restarts in the last hour').fieldConfig.defaults.custom = { x: 1 }),
      /\(Restarts in the last hour\)\.fieldConfig\.defaults\.custom\.x: not in Grafana's schema/,
    ],
    [
      'a misspelt field config key',
      (d) => (panelTitled(d, 'Aggregator headroom').fieldConfig.defaults.unti = 's'),
      /\(Aggregator headroom\)\.fieldConfig\.defaults\.unti: not in Grafana's schema/,
    ],
    [
      'a value of the wrong kind',
      (d) => (panelTitled(d, 'Aggregator headroom').fieldConfig.defaults.min = '0'),
      /\(Aggregator headroom\)\.fieldConfig\.defaults\.min: "0" is not a number/,
    ],
    [
      'an unknown threshold mode',
      (d) => (panelTitled(d, 'Service health').fieldConfig.defaults.thresholds.mode = 'relative'),
      /\.fieldConfig\.defaults\.thresholds\.mode: "relative" is not one of "absolute", "percentage"/,
    ],
    [
      'an unknown panel field',
      (d) => (panelTitled(d, 'Partition TTLs').gridPosition = { x: 0 }),
      /\(Partition TTLs\)\.gridPosition: not in Grafana's schema/,
    ],
    [
      'a panel type without a schema',
      (d) => (panelTitled(d, 'Latest hourly average').type = 'singlestat'),
      /\(Latest hourly average\)\.type: no schema for panel type "singlestat"/,
    ],
    [
      'an override of an unknown custom option',
      (d) =>
        (panelTitled(d, 'Partition TTLs').fieldConfig.overrides = [
          {
            matcher: { id: 'byName', options: 'x' },
            properties: [{ id: 'custom.lineWidht', value: 2 }],
          },
        ]),
      /\.fieldConfig\.overrides\[0\]\.properties\[0\]\.id: unknown field config "custom\.lineWidht"/,
    ],
    [
      'an unknown dashboard field',
      (d) => (d.refreshInterval = '5s'),
      /^refreshInterval: not in Grafana's schema/,
    ],
  ];

  it.each(spoiled)('rejects %s in a copy, and nothing else', (_, spoil, expected) => {
    const dashboard = copy();
    spoil(dashboard);
    const problems = schema.problems(dashboard);
    expect(problems).toEqual([expect.stringMatching(expected)]);
  });
});
