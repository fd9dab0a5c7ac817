import {
  checkWarehouseRows,
  eventually,
  expectedHours,
  queryRows,
  warehousePanelSql,
  type WarehousePanelRow,
} from '@temps/testing';
import { DAY_MS, HOUR_MS } from '@temps/streams';
import type { Cluster, Redis } from 'ioredis';

/** An entry of temps:averages as the aggregator wrote it. */
export interface PublishedHour {
  hourMs: number;
  observations: number;
  averageF: number;
  meanF: string;
  partial: string | null;
}

/** Every entry of temps:averages, oldest first (from one Redis or a cluster). */
export async function publishedHours(redis: Redis | Cluster): Promise<PublishedHour[]> {
  const entries = await redis.xrange('temps:averages', '-', '+');
  return entries.map(([id, flat]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
    return {
      hourMs: Number(id.split('-')[0]),
      observations: Number(f.num_observations),
      averageF: Number(f.average_temp_f),
      meanF: f.mean_temp_f,
      partial: f.partial ?? null,
    };
  });
}

/** The run a compose stack's producers write: its first hour, devices, seed and lanes. */
export interface RunShape {
  startMs: number;
  devices: number;
  seed: number;
  shards: number;
}

/** The hours the run's readings give, from its first hour up to and including `lastHourMs`. */
export function referenceHours(run: RunShape, lastHourMs: number) {
  const reference = expectedHours({
    startMs: run.startMs,
    days: Math.ceil((lastHourMs + HOUR_MS - run.startMs) / DAY_MS),
    devices: run.devices,
    seed: run.seed,
    shards: run.shards,
  });
  return new Map([...reference].filter(([hour]) => hour <= lastHourMs));
}

/**
 * What is wrong with temps:averages, one line per problem: every hour from the run's first must be
 * there once, in order, from every reading of every device (not partial), with the mean the
 * regenerated readings give.
 */
export function publishedProblems(hours: readonly PublishedHour[], run: RunShape): string[] {
  if (hours.length === 0) return ['no hour published'];
  const reference = referenceHours(run, hours[hours.length - 1].hourMs);
  const full = run.devices * 3_600;
  const problems: string[] = [];
  hours.forEach((h, i) => {
    const at = new Date(h.hourMs).toISOString().slice(0, 13);
    const due = run.startMs + i * HOUR_MS;
    if (h.hourMs !== due)
      problems.push(
        `entry ${i + 1}: ${at} where ${new Date(due).toISOString().slice(0, 13)} was due`,
      );
    if (h.observations !== full) problems.push(`${at}: ${h.observations} of ${full} observations`);
    if (h.partial) problems.push(`${at}: partial (${h.partial})`);
    const expected = reference.get(h.hourMs);
    if (expected && h.meanF !== (expected.total / expected.count).toFixed(4))
      problems.push(
        `${at}: mean ${h.meanF}, the readings give ${(expected.total / expected.count).toFixed(4)}`,
      );
  });
  return problems;
}

/**
 * Waits until the compose PostgreSQL, read with the dashboard's warehouse panel SQL, holds each hour
 * of the run up to `lastHourMs` once with the values the readings give; throws with the differences.
 */
export async function expectWarehouseHolds(
  url: string,
  run: RunShape,
  lastHourMs: number,
  timeoutMs = 60_000,
): Promise<void> {
  const stored = referenceHours(run, lastHourMs);
  const problems: string[] = [];
  await eventually(
    async () => {
      problems.length = 0;
      const rows = (await queryRows<WarehousePanelRow>(url, warehousePanelSql())).filter(
        (row) => new Date(row.time).getTime() <= lastHourMs,
      );
      const tally = checkWarehouseRows(rows, stored, problems);
      return tally.lost + tally.doubled + tally.wrong === 0;
    },
    timeoutMs,
    1_000,
  ).catch(() => {
    throw new Error(`the warehouse panel's rows differ:\n${problems.slice(0, 20).join('\n')}`);
  });
}
