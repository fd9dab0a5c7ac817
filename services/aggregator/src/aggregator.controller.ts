import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { StreamEventPattern, type StreamReadEvent } from '@temps/redis';
import { READINGS_PATTERN } from './aggregator.constants';
import { AggregatorService } from './aggregator.service';

/** Receives every read of the partitions from the Redis Streams transport. */
@Controller()
export class AggregatorController {
  constructor(private readonly aggregator: AggregatorService) {}

  @StreamEventPattern(READINGS_PATTERN)
  handle(@Payload() event: StreamReadEvent): Promise<void> {
    return this.aggregator.handle(event);
  }
}
