import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from './service-process';

/** The parts of a Grafana dashboard's JSON model that tests look at. */
export interface DashboardTarget {
  refId?: string;
  expr?: string;
  /** SQL of a PostgreSQL (warehouse) target. */
  rawSql?: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: DashboardTarget[];
  /** Panels nested in a (collapsed) row. */
  panels?: DashboardPanel[];
  fieldConfig?: { defaults?: { unit?: string } };
}

export interface Dashboard {
  uid?: string;
  title?: string;
  panels?: DashboardPanel[];
  [key: string]: unknown;
}

/** The provisioned dashboard, relative to the workspace root. */
export const DASHBOARD_FILE = join('grafana', 'dashboards', 'temps.json');

export function readDashboard(file = join(workspaceRoot(), DASHBOARD_FILE)): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel, rows included, with the panels nested in rows after their row. */
export function dashboardPanels(dashboard: Dashboard): DashboardPanel[] {
  const flatten = (panels: DashboardPanel[] = []): DashboardPanel[] =>
    panels.flatMap((panel) => [panel, ...flatten(panel.panels)]);
  return flatten(dashboard.panels);
}

/** Every target `expr` of every panel (rows have no targets of their own). */
export function queriesOf(dashboard: Dashboard): { panel: string; expr: string }[] {
  return dashboardPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? [])
      .filter((target) => typeof target.expr === 'string')
      .map((target) => ({ panel: panel.title ?? '', expr: target.expr! })),
  );
}

/**
 * Metrics that exist only when the producers write lanes (PRODUCER_SHARDS): a stack without lanes
 * leaves the panels over them empty. (temps_producer_lanes_held is 1 in the default layout.)
 */
export const LANE_METRICS = ['temps_aggregator_lane_lag_seconds'];

/** Whether `expr` reads a metric that only a stack with lanes has. */
export const needsLanes = (expr: string): boolean =>
  LANE_METRICS.some((name) => new RegExp(`\\b${name}\\b`).test(expr));

/**
 * Every PromQL expression of grafana/dashboards/temps.json, with the title of its panel; with
 * `{ lanes: false }`, only those that have data without lanes.
 */
export function dashboardQueries(options: { lanes?: boolean } = {}): {
  panel: string;
  expr: string;
}[] {
  const all = queriesOf(readDashboard());
  return options.lanes === false ? all.filter(({ expr }) => !needsLanes(expr)) : all;
}
