import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  PARTIAL_HOUR_REASONS,
  PARTITION_SKIP_REASONS,
  READING_REJECT_REASONS,
} from '@temps/streams';

@Injectable()
export class AggregatorMetrics {
  readonly readingsAggregated: Counter;
  /** Label `reason`: one of READING_REJECT_REASONS. */
  readonly readingsRejected: Counter<'reason'>;
  readonly averagesWritten: Counter;
  readonly partitionsSkipped: Counter<'reason'>;
  /** Label `reason`: one of PARTIAL_HOUR_REASONS. */
  readonly partialHours: Counter<'reason'>;
  readonly partition: Gauge<'stream'>;
  readonly lag: Gauge;
  /** Label `lane`: the lane's tag (lanes layout only). */
  readonly laneLag: Gauge<'lane'>;
  readonly latestAverage: Gauge;

  constructor(@Inject(Registry) registry: Registry) {
    const registers = [registry];
    this.readingsAggregated = new Counter({
      name: 'temps_readings_aggregated_total',
      help: 'Readings folded into hourly averages.',
      registers,
    });
    this.readingsRejected = new Counter({
      name: 'temps_readings_rejected_total',
      help: 'Partition entries left out of the averages, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.averagesWritten = new Counter({
      name: 'temps_averages_written_total',
      help: 'Hourly averages added to temps:averages.',
      registers,
    });
    this.partitionsSkipped = new Counter({
      name: 'temps_partitions_skipped_total',
      help: 'Day partitions passed over: empty (no readings that day) or expired before they were read.',
      labelNames: ['reason'],
      registers,
    });
    this.partialHours = new Counter({
      name: 'temps_partial_hours_total',
      help: 'Hourly averages added to temps:averages marked partial (readings lost before they were read), by reason: expired or evicted.',
      labelNames: ['reason'],
      registers,
    });
    this.partition = new Gauge({
      name: 'temps_aggregator_partition',
      help: 'The partition the aggregator is reading (1 for its stream label).',
      labelNames: ['stream'],
      registers,
    });
    this.lag = new Gauge({
      name: 'temps_aggregator_lag_seconds',
      help: "Simulated seconds between the producer's watermark and the aggregator's position.",
      registers,
    });
    this.laneLag = new Gauge({
      name: 'temps_aggregator_lane_lag_seconds',
      help: "Simulated seconds a lane's watermark is behind the newest lane's (lanes layout): the lane with the largest lag holds every hour back.",
      labelNames: ['lane'],
      registers,
    });
    this.latestAverage = new Gauge({
      name: 'temps_hourly_average_fahrenheit',
      help: 'The latest hourly average temperature (exact mean).',
      registers,
    });
    // Every known reason is a series from the start, so a panel reads 0 rather than "No data".
    for (const reason of READING_REJECT_REASONS) this.readingsRejected.inc({ reason }, 0);
    for (const reason of PARTITION_SKIP_REASONS) this.partitionsSkipped.inc({ reason }, 0);
    for (const reason of PARTIAL_HOUR_REASONS) this.partialHours.inc({ reason }, 0);
  }
}
