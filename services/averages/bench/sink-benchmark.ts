import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { DependencyChecks } from '@temps/health';
import {
  addSyntheticAverages,
  createScratchDatabase,
  startPrivateRedis,
  syntheticHour,
  SYNTHETIC_START_MS,
} from '@temps/testing';
import { averageFields, HOUR_MS } from '@temps/streams';
import { HOURLY_COLUMNS, parseWarehouseUrl, Warehouse } from '@temps/warehouse';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Registry } from 'prom-client';
import { AveragesMetrics } from '../src/averages.metrics';
import { AveragesRepository } from '../src/averages.repository';
import type { AveragesService } from '../src/averages.service';
import { WarehouseSink } from '../src/warehouse-sink';

export interface SinkRound {
  hours: number;
  /** Rows per second through the sink (read from temps:averages, stored in transactions). */
  sink: number;
  /** Rows per second of PostgreSQL's own COPY FROM STDIN of the same rows. */
  copy: number;
}

/** The same rows as CSV lines for COPY, from the same synthetic hours the sink reads. */
function csvRows(hours: number): string[] {
  const lines: string[] = [];
  for (let index = 0; index < hours; index++) {
    const { total, count } = syntheticHour(index);
    const hourStartMs = SYNTHETIC_START_MS + index * HOUR_MS;
    const f = averageFields({ hourStartMs, total, count, min: -30, max: 110 });
    const start = new Date(hourStartMs).toISOString();
    lines.push(
      [
        start,
        start.slice(0, 10),
        f.hour,
        f.average_temp_f,
        f.num_observations,
        f.mean_temp_f,
        f.min_temp_f,
        f.max_temp_f,
        '', // partial: NULL, a complete hour
      ].join(',') + '\n',
    );
  }
  return lines;
}

/**
 * One round: `hours` hourly averages on a private Redis's temps:averages, stored by the real
 * WarehouseSink into a fresh database on the machine's PostgreSQL; then the same rows COPYed into
 * another fresh database. Both databases are created and dropped here.
 */
export async function benchmarkSinkRound(hours: number): Promise<SinkRound> {
  Logger.overrideLogger(false); // the sink's start-up line is not a result
  const redisServer = await startPrivateRedis();
  const sinkDb = await createScratchDatabase('temps_bench_sink');
  const copyDb = await createScratchDatabase('temps_bench_copy');
  try {
    const redis = redisServer.client();
    for (let from = 0; from < hours; from += 10_000) {
      await addSyntheticAverages(redis, from, Math.min(10_000, hours - from));
    }

    // The sink, as the averages service wires it (its reader is idle here).
    const warehouse = Warehouse.open(parseWarehouseUrl(sinkDb.url));
    await warehouse.migrate();
    const metrics = new AveragesMetrics(new Registry());
    const reader = { lastSeq: () => hours } as unknown as AveragesService;
    const sink = new WarehouseSink(
      warehouse,
      new AveragesRepository(redis),
      reader,
      metrics,
      new DependencyChecks(),
    );
    sink.onModuleInit();
    const started = performance.now();
    const running = sink.run();
    const probe = Warehouse.open(parseWarehouseUrl(sinkDb.url));
    try {
      for (;;) {
        const { lastSeq } = await probe.position('temps:averages');
        if (lastSeq >= hours) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } finally {
      await probe.close();
    }
    const sinkSeconds = (performance.now() - started) / 1000;
    sink.stop();
    await running;

    // PostgreSQL's own bulk load of the same rows into the same (freshly migrated) table.
    const copyWarehouse = Warehouse.open(parseWarehouseUrl(copyDb.url));
    await copyWarehouse.migrate();
    await copyWarehouse.close();
    const lines = csvRows(hours);
    const client = new Client({ connectionString: copyDb.url });
    await client.connect();
    let copySeconds: number;
    try {
      const copyStarted = performance.now();
      await client.query('BEGIN');
      await pipeline(
        Readable.from(lines),
        client.query(
          copyFrom(
            `COPY hourly_averages (${HOURLY_COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv)`,
          ),
        ),
      );
      await client.query('COMMIT');
      copySeconds = (performance.now() - copyStarted) / 1000;
      const { rows } = await client.query('select count(*)::int as n from hourly_averages');
      if (rows[0].n !== hours) throw new Error(`COPY stored ${rows[0].n} rows, not ${hours}`);
    } finally {
      await client.end();
    }
    return { hours, sink: hours / sinkSeconds, copy: hours / copySeconds };
  } finally {
    await sinkDb.drop();
    await copyDb.drop();
    await redisServer.stop();
  }
}
