/**
 * A second instance waiting while another one writes the same saved state (two started by
 * mistake): it may take over once that state has stayed unchanged for `quietMs`, i.e. the other
 * instance has stopped. The caller reads the saved state and hands it in; this only compares.
 */
export class Standby {
  /** How long the other instance's state must stay unchanged before a waiting one takes over (ms). */
  static readonly QUIET_MS = 10_000;

  private last: string;
  private since: number;

  /** `saved`: the state as the other instance left it (any JSON-serialisable value). */
  constructor(
    saved: unknown,
    private readonly quietMs = Standby.QUIET_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.last = JSON.stringify(saved);
    this.since = now();
  }

  /** Records the state saved now; true once it has not changed for `quietMs`. */
  isQuiet(saved: unknown): boolean {
    const current = JSON.stringify(saved);
    if (current !== this.last) {
      this.last = current;
      this.since = this.now();
      return false;
    }
    return this.now() - this.since >= this.quietMs;
  }
}
