import { Controller, Inject } from '@nestjs/common';
import { StreamEventPattern } from '@temps/redis';
import { AGGREGATOR_CONSUMER, READINGS_PATTERN } from './aggregator.constants';

/** What the controller drives: AggregatorService, or LanesAggregatorService with lanes. */
export interface AggregatorConsumer {
  handle(): Promise<void>;
}

/** Receives every read of the partitions from the Redis Streams transport. */
@Controller()
export class AggregatorController {
  constructor(@Inject(AGGREGATOR_CONSUMER) private readonly aggregator: AggregatorConsumer) {}

  /** Each read only wakes the aggregator: it folds the partition inside Redis itself. */
  @StreamEventPattern(READINGS_PATTERN)
  handle(): Promise<void> {
    return this.aggregator.handle();
  }
}
