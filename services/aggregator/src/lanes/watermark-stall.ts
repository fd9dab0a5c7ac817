/** What the lanes' watermarks say at one look (see WatermarkStall.observe). */
export interface LaneWatermarks {
  /** Simulated seconds each lane's watermark is behind the newest lane's (0 for the newest). */
  lags: number[];
  /** The lane holding the run's watermark back (the oldest watermark), or null when none is behind. */
  slowest: number | null;
  /** Real ms the run's watermark (the minimum over lanes) has not moved while a lane was behind. */
  stalledForMs: number;
}

/**
 * Watches the minimum over the lanes' watermarks, which decides when an hour closes. A lane behind
 * the others is normal for a moment (lanes write in batches); a lane that stays behind while the run's
 * watermark does not move has no producer writing it. Pure: the caller brings the watermarks and the
 * clock. A lane with no watermark yet counts as being at `startMs` (the run's first reading).
 */
export class WatermarkStall {
  private minimum: number | null = null;
  private since = 0;

  constructor(private readonly startMs: number) {}

  /** `watermarks`: Unix ms per lane (null: not written yet); `nowMs`: real Unix ms. */
  observe(watermarks: readonly (number | null)[], nowMs: number): LaneWatermarks {
    const at = watermarks.map((ms) => ms ?? this.startMs);
    const newest = Math.max(...at);
    const oldest = Math.min(...at);
    const lags = at.map((ms) => (newest - ms) / 1000);
    if (this.minimum === null || oldest > this.minimum || oldest === newest) {
      this.minimum = oldest;
      this.since = nowMs;
    }
    const slowest = oldest < newest ? at.indexOf(oldest) : null;
    return { lags, slowest, stalledForMs: slowest === null ? 0 : nowMs - this.since };
  }
}
