import { Injectable } from '@nestjs/common';

/**
 * The service's work loop calls `beat()` on every turn; health reports the loop dead when it stops,
 * and at once while the loop says it cannot work (`blocked(reason)`, until its next beat).
 */
@Injectable()
export class Heartbeat {
  private last: number | null = null;
  private problem: string | null = null;

  beat(): void {
    this.last = Date.now();
    this.problem = null;
  }

  /** The loop is turning but cannot do its work (e.g. Redis is full): unhealthy until the next beat. */
  blocked(reason: string): void {
    this.problem = reason;
  }

  /** Why the loop cannot work, or null. */
  blockedBy(): string | null {
    return this.problem;
  }

  /** Milliseconds since the last beat, or null before the loop's first turn. */
  ageMs(): number | null {
    return this.last === null ? null : Date.now() - this.last;
  }
}
