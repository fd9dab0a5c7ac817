import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { WAREHOUSE_FAILURES } from '@temps/warehouse';

@Injectable()
export class AveragesMetrics {
  readonly read: Counter;
  readonly missed: Counter;
  readonly malformed: Counter;
  readonly warehouseRows: Counter;
  /** Label `reason`: one of WAREHOUSE_FAILURES. */
  readonly warehouseErrors: Counter<'reason'>;
  readonly warehouseMissed: Counter;
  readonly warehouseSetAside: Counter;
  readonly warehouseLag: Gauge;
  readonly warehouseUp: Gauge;
  /** Read at scrape time for temps_warehouse_lag_hours; null until the warehouse position is known. */
  warehouseLagSource: () => number | null = () => null;

  constructor(@Inject(Registry) registry: Registry) {
    const registers = [registry];
    this.read = new Counter({
      name: 'temps_averages_read_total',
      help: 'Hourly averages printed.',
      registers,
    });
    this.missed = new Counter({
      name: 'temps_averages_missed_total',
      help: 'Hourly averages trimmed from temps:averages before the reader got to them.',
      registers,
    });
    this.malformed = new Counter({
      name: 'temps_averages_malformed_total',
      help: 'temps:averages entries without the fields of an hourly average (skipped).',
      registers,
    });
    this.warehouseRows = new Counter({
      name: 'temps_warehouse_rows_written_total',
      help: 'Hourly averages stored in the warehouse (a replayed hour counts again, but stays one row).',
      registers,
    });
    this.warehouseErrors = new Counter({
      name: 'temps_warehouse_write_errors_total',
      help: `Failed warehouse steps, by reason: ${WAREHOUSE_FAILURES.join(', ')}.`,
      labelNames: ['reason'],
      registers,
    });
    this.warehouseMissed = new Counter({
      name: 'temps_warehouse_missed_total',
      help: 'Hourly averages trimmed from temps:averages before the warehouse stored them.',
      registers,
    });
    this.warehouseSetAside = new Counter({
      name: 'temps_warehouse_set_aside_total',
      help: 'temps:averages entries that can never be stored (a value out of range, a day that does not exist), kept in set_aside_averages instead.',
      registers,
    });
    const lagSource = () => this.warehouseLagSource();
    this.warehouseLag = new Gauge({
      name: 'temps_warehouse_lag_hours',
      help: 'Hourly averages the reader has read that the warehouse has not stored yet.',
      registers,
      collect() {
        const lag = lagSource();
        if (lag !== null) this.set(lag);
      },
    });
    this.warehouseUp = new Gauge({
      name: 'temps_warehouse_up',
      help: '1 if the last warehouse step succeeded, 0 if it failed.',
      registers,
    });
    // Every known reason is a series from the start, so a panel reads 0 rather than "No data".
    for (const reason of WAREHOUSE_FAILURES) this.warehouseErrors.inc({ reason }, 0);
  }
}
