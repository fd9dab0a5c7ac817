import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';

@Injectable()
export class ProducerMetrics {
  readonly readingsProduced: Counter;
  readonly batchesWritten: Counter;
  /** Unlabelled in the default layout; one series per held lane (`lane` = its tag) with lanes. */
  readonly watermark: Gauge<'lane'>;
  readonly lanesHeld: Gauge;
  readonly leaseLost: Counter;
  readonly unconfirmed: Gauge<'lane'>;
  readonly replicaShortfalls: Counter<'node'>;

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
      help: 'Simulated Unix time before which every reading of every device is written (with lanes: of the lane).',
      labelNames: ['lane'],
      registers: [registry],
    });
    this.lanesHeld = new Gauge({
      name: 'temps_producer_lanes_held',
      help: 'Lanes this producer holds (1 in the default layout).',
      registers: [registry],
    });
    this.leaseLost = new Counter({
      name: 'temps_producer_lease_lost_total',
      help: 'Lanes taken over by another producer after this one let its lease lapse.',
      registers: [registry],
    });
    this.unconfirmed = new Gauge({
      name: 'temps_producer_unconfirmed_seconds',
      help: 'With REDIS_WAIT_REPLICAS: simulated seconds of a held lane written but not yet confirmed by replicas (not yet readable by the aggregator).',
      labelNames: ['lane'],
      registers: [registry],
    });
    this.replicaShortfalls = new Counter({
      name: 'temps_producer_replica_shortfalls_total',
      help: "With REDIS_WAIT_REPLICAS: WAIT rounds in which fewer replicas than asked acknowledged a master's writes (node = the master, host:port); their readings stay unconfirmed.",
      labelNames: ['node'],
      registers: [registry],
    });
  }
}
