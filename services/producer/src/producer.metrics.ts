import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';

@Injectable()
export class ProducerMetrics {
  readonly readingsProduced: Counter;
  readonly batchesWritten: Counter;
  readonly watermark: Gauge;

  constructor(@Inject(Registry) registry: Registry) {
    this.readingsProduced = new Counter({
      name: 'temps_readings_produced_total',
      help: 'Readings written to day partitions.',
      registers: [registry],
    });
    this.batchesWritten = new Counter({
      name: 'temps_producer_batches_total',
      help: 'Atomic batch writes (readings + expiry + position) committed.',
      registers: [registry],
    });
    this.watermark = new Gauge({
      name: 'temps_producer_watermark_seconds',
      help: 'Simulated Unix time before which every reading of every device is written.',
      registers: [registry],
    });
  }
}
