// Every labelled counter of every service is a series at 0 for each label value it knows, from the
// moment the service starts: a dashboard panel over it reads 0 on a clean stack, never "No data".
// Each service's metrics classes are constructed here on a fresh registry and
// scraped, in-process. The services are applications, which no project may import by name, so
// their `*.metrics.ts` files are found on disk and loaded by path; this project already depends
// on every service (implicitDependencies in e2e/project.json).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import {
  PARTIAL_HOUR_REASONS,
  PARTITION_SKIP_REASONS,
  READING_REJECT_REASONS,
} from '@temps/streams';
import { WAREHOUSE_FAILURES } from '@temps/warehouse';
import { workspaceRoot } from '@temps/testing';

/** Every labelled counter a service may have, with its label and the values it knows. */
const KNOWN: Record<string, { label: string; values: readonly string[] }> = {
  temps_readings_rejected_total: { label: 'reason', values: READING_REJECT_REASONS },
  temps_partitions_skipped_total: { label: 'reason', values: PARTITION_SKIP_REASONS },
  temps_partial_hours_total: { label: 'reason', values: PARTIAL_HOUR_REASONS },
  temps_warehouse_write_errors_total: { label: 'reason', values: WAREHOUSE_FAILURES },
};

/**
 * Labelled counters whose label values are found at run time, not known in advance: none has a
 * series until the service meets a value, and each starts at 0 then (tested where it is met).
 */
const DISCOVERED: Record<string, { label: string; startsAtZeroIn: string }> = {
  // One series a Redis master the producer confirms writes on (REDIS_WAIT_REPLICAS).
  temps_producer_replica_shortfalls_total: {
    label: 'node',
    startsAtZeroIn: 'services/producer/test/replica-confirmer.spec.ts',
  },
};

const servicesDir = join(workspaceRoot(), 'services');
const services = readdirSync(servicesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** The `*.metrics.ts` files of a service's sources. */
function metricsFiles(service: string): string[] {
  const src = join(servicesDir, service, 'src');
  return readdirSync(src)
    .filter((file) => file.endsWith('.metrics.ts'))
    .map((file) => join(src, file));
}

type MetricsClass = new (registry: Registry) => unknown;

/** A fresh registry with every metrics class of the service constructed on it. */
async function serviceRegistry(service: string): Promise<Registry> {
  const registry = new Registry();
  for (const file of metricsFiles(service)) {
    const exports = (await import(file)) as Record<string, unknown>;
    const classes = Object.entries(exports).filter(
      (entry): entry is [string, MetricsClass] =>
        entry[0].endsWith('Metrics') && typeof entry[1] === 'function',
    );
    if (classes.length === 0) throw new Error(`${file} exports no *Metrics class`);
    for (const [, Metrics] of classes) new Metrics(registry);
  }
  return registry;
}

interface Scraped {
  name: string;
  type: string;
  labelNames: string[];
  series: { labels: Partial<Record<string, string | number>>; value: number }[];
}

/** Every metric of the registry with its label names and series, as a scrape would see them. */
async function scrape(registry: Registry): Promise<Scraped[]> {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.map((metric) => ({
    name: metric.name,
    type: String(metric.type),
    labelNames: [
      ...((registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] })
        .labelNames ?? []),
    ],
    series: metric.values.map(({ labels, value }) => ({ labels, value })),
  }));
}

describe('labelled counters', () => {
  it('are looked for in every service, each of which has a metrics class', () => {
    expect(services).toEqual(['aggregator', 'averages', 'producer']);
    for (const service of services) expect(metricsFiles(service)).not.toHaveLength(0);
  });

  it.each(services)(
    '%s: every labelled counter has a series at 0 for each label value it knows',
    async (service) => {
      const counters = (await scrape(await serviceRegistry(service))).filter(
        (metric) => metric.type === 'counter' && metric.labelNames.length > 0,
      );
      for (const counter of counters) {
        const discovered = DISCOVERED[counter.name];
        if (discovered) {
          expect({
            counter: counter.name,
            labelNames: counter.labelNames,
            series: counter.series,
          }).toEqual({
            counter: counter.name,
            labelNames: [discovered.label],
            series: [],
          });
          continue;
        }
        const known = KNOWN[counter.name];
        // A new labelled counter needs its known values listed above (and started at 0).
        expect({ counter: counter.name, known: known !== undefined }).toEqual({
          counter: counter.name,
          known: true,
        });
        expect({ counter: counter.name, labelNames: counter.labelNames }).toEqual({
          counter: counter.name,
          labelNames: [known.label],
        });
        const series = counter.series
          .map((s) => [String(s.labels[known.label]), s.value] as const)
          .sort(([a], [b]) => a.localeCompare(b));
        expect({ counter: counter.name, series }).toEqual({
          counter: counter.name,
          series: [...known.values].sort((a, b) => a.localeCompare(b)).map((value) => [value, 0]),
        });
      }
    },
  );

  it('are all found in some service (none listed here is gone or renamed)', async () => {
    const found = new Set<string>();
    for (const service of services) {
      for (const metric of await scrape(await serviceRegistry(service))) found.add(metric.name);
    }
    expect(
      [...Object.keys(KNOWN), ...Object.keys(DISCOVERED)].filter((name) => !found.has(name)),
    ).toEqual([]);
    // The test said to check a discovered counter's start at 0 names it.
    for (const [name, { startsAtZeroIn }] of Object.entries(DISCOVERED))
      expect(readFileSync(join(workspaceRoot(), startsAtZeroIn), 'utf8')).toContain(`'${name}'`);
  });
});
