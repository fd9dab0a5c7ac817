import fc from 'fast-check';
import { DAY_MS, ReadingGenerator, partitionKeyFor } from '@temps/streams';
import type { Batch } from './producer.repository';
import type { RunParams } from './run-plan';
import { writeAhead, type WriteAheadPlan } from './write-ahead';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

function plan(overrides: Partial<RunParams> = {}): RunParams {
  return {
    runId: 'r',
    startMs: JAN_1_2025,
    endMs: JAN_1_2025 + DAY_MS,
    intervalMs: 1_000,
    devices: 2,
    seed: 7,
    rate: 1,
    paced: false,
    realStartMs: 0,
    ...overrides,
  };
}

/** A writer whose batches Redis applies after `delay` turns of the event loop, failing `failAt`. */
function writer(run: RunParams, options: { failAt?: number; stopAfter?: number } = {}) {
  const sent: Batch[] = [];
  const applied: { readings: number; watermarkMs: number }[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const w: WriteAheadPlan = {
    plan: run,
    fromMs: run.startMs,
    generator: ReadingGenerator.seeded(run.seed, run.devices),
    now: () => 0,
    partitionFor: (firstMs) => partitionKeyFor(firstMs),
    send: async (batch) => {
      sent.push(batch);
      const index = sent.length - 1;
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      // As the batch script's position guard: a batch behind a failed one is refused too.
      if (options.failAt !== undefined && index >= options.failAt) {
        throw new Error(`refused batch ${index}`);
      }
      return batch.temps.length;
    },
    applied: (readings, watermarkMs) => applied.push({ readings, watermarkMs }),
    idle: async () => undefined,
    stopped: () => options.stopAfter !== undefined && applied.length >= options.stopAfter,
  };
  return { w, sent, applied, mostInFlight: () => mostInFlight };
}

describe('writeAhead', () => {
  it('writes every reading once, in order, one partition a batch, at most one batch ahead', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Starts in the last hours of a day, so most plans cross midnight (a new partition).
        fc.integer({ min: DAY_MS - 3 * 3_600_000, max: DAY_MS }),
        fc.integer({ min: 1, max: 6 * 3_600_000 }),
        fc.constantFrom(1_000, 7_000, 60_000),
        fc.integer({ min: 1, max: 5 }),
        async (offset, lengthMs, intervalMs, devices) => {
          const run = plan({
            startMs: JAN_1_2025 + offset,
            endMs: JAN_1_2025 + offset + lengthMs,
            intervalMs,
            devices,
          });
          const { w, sent, applied, mostInFlight } = writer(run);
          const reference = ReadingGenerator.seeded(run.seed, devices);

          await expect(writeAhead(w)).resolves.toBe(run.endMs);
          let expected = run.startMs;
          for (const batch of sent) {
            expect(batch.firstMs).toBe(expected);
            const ticks = batch.temps.length / devices;
            const last = batch.firstMs + (ticks - 1) * intervalMs;
            expect(batch.partition).toBe(partitionKeyFor(last));
            expect(batch.temps).toEqual(reference.next(ticks));
            expect(batch.generator).toEqual(reference.state());
            expected = Math.min(last + intervalMs, run.endMs!);
            expect(batch.watermarkMs).toBe(expected);
          }
          expect(expected).toBe(run.endMs);
          // Applied in order, each batch once, with its readings.
          expect(applied).toEqual(
            sent.map((b) => ({ readings: b.temps.length, watermarkMs: b.watermarkMs })),
          );
          expect(mostInFlight()).toBeLessThanOrEqual(2);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rejects with the first refusal; nothing behind it is applied, and no more is sent', async () => {
    for (const failAt of [0, 1, 3]) {
      const { w, sent, applied } = writer(plan({ devices: 1 }), { failAt });
      await expect(writeAhead(w)).rejects.toThrow(`refused batch ${failAt}`);
      expect(applied).toHaveLength(failAt);
      // The batch already sent behind the refused one, and no other.
      expect(sent.length).toBeLessThanOrEqual(failAt + 2);
    }
  });

  it('stops when asked, with every batch it sent applied', async () => {
    const { w, sent, applied } = writer(plan({ devices: 1 }), { stopAfter: 2 });
    const planned = await writeAhead(w);
    expect(applied.length).toBe(sent.length);
    expect(applied.length).toBeLessThan(12);
    expect(planned).toBe(sent[sent.length - 1].watermarkMs);
  });

  it('waits when ahead of a paced clock, saying whether every batch sent is applied', async () => {
    let now = 0;
    const run = plan({ paced: true, rate: 3_600, realStartMs: 0, devices: 1 });
    const { w, sent } = writer(run);
    const send = w.send;
    const early: Batch[] = [];
    w.send = (batch) => {
      // The newest reading of a batch is due (simulated clock) by the time it is sent.
      if (batch.watermarkMs - run.intervalMs > run.startMs + now * run.rate) early.push(batch);
      return send(batch);
    };
    const idles: { dueMs: number; caughtUp: boolean }[] = [];
    w.now = () => now;
    w.idle = async (dueMs, caughtUp) => {
      idles.push({ dueMs, caughtUp });
      await new Promise((resolve) => setImmediate(resolve)); // the batch in flight is applied
      now += 0.1; // real ms: 360 simulated ms at 3600x, less than a tick
    };
    w.stopped = () => now >= 5;
    await writeAhead(w);
    expect(sent.length).toBeGreaterThan(5);
    expect(early).toEqual([]);
    expect(idles.every((idle) => idle.dueMs >= 0 && idle.dueMs <= 2)).toBe(true);
    // A wait right after a send has it in flight; the next one has it applied.
    expect(idles.some((idle) => !idle.caughtUp)).toBe(true);
    expect(idles.some((idle) => idle.caughtUp)).toBe(true);
  });
});
