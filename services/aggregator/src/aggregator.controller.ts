import { Controller } from '@nestjs/common';
import { StreamEventPattern } from '@temps/redis';
import { READINGS_PATTERN } from './aggregator.constants';
import { AggregatorService } from './aggregator.service';

/** Receives every read of the partitions from the Redis Streams transport. */
@Controller()
export class AggregatorController {
  constructor(private readonly aggregator: AggregatorService) {}

  /** Each read only wakes the aggregator: it folds the partition inside Redis itself. */
  @StreamEventPattern(READINGS_PATTERN)
  handle(): Promise<void> {
    return this.aggregator.handle();
  }
}
