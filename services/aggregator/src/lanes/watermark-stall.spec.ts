import fc from 'fast-check';
import { WatermarkStall } from './watermark-stall';

const START = Date.UTC(2025, 0, 1);

describe('WatermarkStall', () => {
  it('names the lane holding the watermark back, and how long the watermark has not moved', () => {
    const watch = new WatermarkStall(START);
    expect(watch.observe([START + 5_000, START + 5_000], 0)).toEqual({
      lags: [0, 0],
      slowest: null,
      stalledForMs: 0,
    });
    watch.observe([START + 5_000, START + 9_000], 1_000);
    const stalled = watch.observe([START + 5_000, START + 60_000], 31_000);
    expect(stalled).toEqual({ lags: [55, 0], slowest: 0, stalledForMs: 31_000 });
    // The slow lane moves: the watermark moved, the stall is over.
    expect(watch.observe([START + 6_000, START + 61_000], 32_000).stalledForMs).toBe(0);
  });

  it('counts a lane never written as being at the run start', () => {
    const watch = new WatermarkStall(START);
    expect(watch.observe([START + 3_000, null], 0)).toMatchObject({ lags: [0, 3], slowest: 1 });
  });

  it('never reports a stall while the minimum keeps moving', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1_000), fc.nat(1_000)), { minLength: 1, maxLength: 50 }),
        (steps) => {
          const watch = new WatermarkStall(START);
          let [a, b] = [START, START];
          steps.forEach(([da, db], i) => {
            // Both lanes move every look: the minimum moves unless it was already the newest.
            [a, b] = [a + da + 1, b + db + 1];
            expect(watch.observe([a, b], i * 10_000).stalledForMs).toBe(0);
          });
        },
      ),
    );
  });
});
