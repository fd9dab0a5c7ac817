import { Standby } from './standby';

/** What a standing-by instance does next: keep waiting, or take the state over. */
export type WriterDecision = 'wait' | 'take-over';

/**
 * The single-writer protocol around a guarded state (GUARD_POSITION_LUA refuses a write from a
 * position someone else moved): one instance writes; another, refused because the state moved
 * under it, stands by and takes over once the state has stayed unchanged for `quietMs` (the other
 * instance stopped). The caller reads the saved state and hands it in; this only decides.
 *
 *   writer.onRefused(saved)  — a write was refused by another instance's save: stand by
 *   writer.poll(saved)       — while standing by, on each turn: 'wait' | 'take-over'
 */
export class SingleWriter<S = unknown> {
  /** How long the other instance's state must stay unchanged before a waiting one takes over (ms). */
  static readonly QUIET_MS = Standby.QUIET_MS;

  private standby: Standby | null = null;
  private readonly quietMs: number;
  private readonly now: () => number;

  constructor(options: { quietMs?: number; now?: () => number } = {}) {
    this.quietMs = options.quietMs ?? SingleWriter.QUIET_MS;
    this.now = options.now ?? Date.now;
  }

  /** Whether this instance is standing by (another one writes the state). */
  get standingBy(): boolean {
    return this.standby !== null;
  }

  /**
   * Another instance saved `saved` where this one meant to write: stand by from now. Returns true
   * when this starts a standby (say so once), false when already standing by (the quiet period
   * restarts only if `saved` changed).
   */
  onRefused(saved: S): boolean {
    if (this.standby) {
      this.standby.isQuiet(saved);
      return false;
    }
    this.standby = new Standby(saved, this.quietMs, this.now);
    return true;
  }

  /**
   * The state as saved now: 'take-over' once it has not changed for `quietMs` (this instance
   * writes again from `saved`), else 'wait'. Not standing by: 'take-over' at once.
   */
  poll(saved: S): WriterDecision {
    if (!this.standby) return 'take-over';
    if (!this.standby.isQuiet(saved)) return 'wait';
    this.standby = null;
    return 'take-over';
  }
}
