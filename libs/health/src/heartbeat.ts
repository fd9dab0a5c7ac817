import { Injectable } from '@nestjs/common';

/** The service's work loop calls `beat()` on every turn; health reports the loop dead when it stops. */
@Injectable()
export class Heartbeat {
  private last: number | null = null;

  beat(): void {
    this.last = Date.now();
  }

  /** Milliseconds since the last beat, or null before the loop's first turn. */
  ageMs(): number | null {
    return this.last === null ? null : Date.now() - this.last;
  }
}
