import fc from 'fast-check';
import { DAY_MS, partitionKeyFor } from '@temps/streams';
import { nextStep, watermarkAfter, type RunParams } from './run-plan';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

function run(overrides: Partial<RunParams> = {}): RunParams {
  return {
    runId: 'r',
    startMs: JAN_1_2025,
    endMs: JAN_1_2025 + 3 * DAY_MS,
    intervalMs: 1_000,
    devices: 1,
    seed: 1,
    rate: 1,
    paced: false,
    realStartMs: 0,
    ...overrides,
  };
}

/** Drives nextStep to the end of a fast run, collecting the batches. */
function batches(params: RunParams, maxEntries: number) {
  const out: { firstMs: number; ticks: number }[] = [];
  let watermark = params.startMs;
  for (;;) {
    const step = nextStep(params, watermark, 0, maxEntries);
    if (step.kind !== 'write') return { out, step };
    out.push(step);
    watermark = watermarkAfter(params, step.firstMs, step.ticks);
  }
}

describe('run plan', () => {
  it('covers a run exactly once, one partition per batch, within the batch size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 * DAY_MS }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(1_000, 500, 7_000, 60_000),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2_000, max: 20_000 }),
        (offset, days, intervalMs, devices, maxEntries) => {
          const params = run({
            startMs: JAN_1_2025 + offset,
            endMs: JAN_1_2025 + offset + days * DAY_MS,
            intervalMs,
            devices,
          });
          const { out, step } = batches(params, maxEntries);
          expect(step.kind).toBe('done');
          let expected = params.startMs;
          for (const batch of out) {
            expect(batch.firstMs).toBe(expected);
            const last = batch.firstMs + (batch.ticks - 1) * intervalMs;
            expect(partitionKeyFor(last)).toBe(partitionKeyFor(batch.firstMs));
            expect(batch.ticks * devices).toBeLessThanOrEqual(Math.max(devices, maxEntries));
            expected = last + intervalMs;
          }
          expect(out.reduce((n, b) => n + b.ticks, 0)).toBe(
            Math.ceil((days * DAY_MS) / intervalMs),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never writes ahead of the simulated clock in a paced run', () => {
    const paced = run({ paced: true, rate: 3600, realStartMs: 1_000_000 });
    // 2 real seconds in, 7,200 simulated seconds are due: readings 0 s .. 7,200 s inclusive.
    const step = nextStep(paced, paced.startMs, 1_002_000, 100_000);
    expect(step).toEqual({ kind: 'write', firstMs: paced.startMs, ticks: 7_201 });
    const ahead = nextStep(paced, paced.startMs + 7_201_000, 1_002_000, 100_000);
    expect(ahead).toEqual({ kind: 'wait', untilRealMs: 1_002_001 });
  });

  it('caps the watermark at the end of a bounded run and reports it done', () => {
    const odd = run({ intervalMs: 7_000, endMs: JAN_1_2025 + DAY_MS });
    const { out } = batches(odd, 1_000_000);
    const last = out[out.length - 1];
    expect(watermarkAfter(odd, last.firstMs, last.ticks)).toBe(odd.endMs);
    expect(nextStep(odd, odd.endMs!, 0, 10)).toEqual({ kind: 'done' });
  });
});
