import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { StreamEventPattern, type StreamReadEvent } from '@temps/redis';
import { AVERAGES_PATTERN } from './averages.constants';
import { AveragesService } from './averages.service';

/** Receives every read of temps:averages from the Redis Streams transport. */
@Controller()
export class AveragesController {
  constructor(private readonly averages: AveragesService) {}

  @StreamEventPattern(AVERAGES_PATTERN)
  handle(@Payload() event: StreamReadEvent): Promise<void> {
    return this.averages.handle(event);
  }
}
