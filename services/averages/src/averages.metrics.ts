import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

@Injectable()
export class AveragesMetrics {
  readonly read: Counter;
  readonly missed: Counter;
  readonly malformed: Counter;

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
  }
}
