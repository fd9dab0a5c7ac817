import { dashboardQueries } from './dashboard';

/** One series of an instant query's result. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Runs an instant PromQL query against the Prometheus at `baseUrl` (e.g. http://127.0.0.1:9090). */
export async function queryPrometheus(baseUrl: string, expr: string): Promise<PromSample[]> {
  const url = `${baseUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const body = (await (await fetch(url)).json()) as {
    status: string;
    error?: string;
    data: { result: PromSample[] };
  };
  if (body.status !== 'success') throw new Error(`query failed: ${expr}: ${body.error ?? ''}`);
  return body.data.result;
}

/**
 * Runs every query of every dashboard panel until each has returned data (rate() and increase()
 * need a few scrapes) or `timeoutMs` has passed; returns the ones that never did, as
 * `panel: expr`. Without `{ lanes: true }` the panels that need lanes (LANE_METRICS) are left out:
 * a stack whose producers write the exercise's layout has no data for them.
 */
export async function panelQueriesWithoutData(
  baseUrl: string,
  timeoutMs: number,
  options: { lanes?: boolean } = {},
): Promise<string[]> {
  const queries = dashboardQueries({ lanes: options.lanes ?? false });
  const empty = new Set(queries.map((q) => `${q.panel}: ${q.expr}`));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const q of queries) {
      const name = `${q.panel}: ${q.expr}`;
      if (empty.has(name) && (await queryPrometheus(baseUrl, q.expr).catch(() => [])).length > 0)
        empty.delete(name);
    }
    if (empty.size === 0 || Date.now() > deadline) return [...empty];
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
