import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import type { StreamReadEvent } from '@temps/redis';
import { AVERAGES_PATTERN } from './averages.constants';
import { AveragesService } from './averages.service';

/** Receives every read of temps:averages from the Redis Streams transport. */
@Controller()
export class AveragesController {
  constructor(private readonly averages: AveragesService) {}

  @EventPattern(AVERAGES_PATTERN)
  handle(@Payload() event: StreamReadEvent): Promise<void> {
    return this.averages.handle(event);
  }
}
