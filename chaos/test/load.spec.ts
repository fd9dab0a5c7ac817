import { readFileSync } from 'node:fs';
import {
  AveragesRecorder,
  COMPOSE_STREAM_NODE_ARGS,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  recordRow,
  startPrivateRedis,
  type SimulatedRun,
} from '@temps/testing';
import { FULL, JAN_1_2025, Pipeline, SERVICES } from './support/pipeline';

// One day of 100 devices: 8,640,000 readings (10 devices in the short form).
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 1, devices: FULL ? 100 : 10, seed: 100 };
const READINGS = 86_400 * RUN.devices;
const LAST_HOUR = `${JAN_1_2025 + 86_400_000 - 3_600_000}-0`;

/** A process's peak resident memory (the kernel's high-water mark), in MiB. */
function peakMiB(pid: number): number {
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round(kib / 1024);
}

const rate = (readings: number, ms: number) =>
  `${Math.round((readings * 1000) / ms).toLocaleString('en-US')}/s`;

describe(`load: ${RUN.devices} devices for a day (${READINGS.toLocaleString('en-US')} readings)`, () => {
  it('goes through producer and aggregator exact, and reports rates and memory', async () => {
    // Stream node settings as in the compose stack.
    const server = await startPrivateRedis({
      args: [...COMPOSE_STREAM_NODE_ARGS],
    });
    const redis = server.client();
    const pipeline = await Pipeline.create(server.url, RUN);
    const recorder = new AveragesRecorder(server.url);
    try {
      pipeline.start('aggregator');
      pipeline.start('averages');
      const began = Date.now();
      const producer = pipeline.start('producer');
      await eventually(() => redis.exists('temps:20250101'), 30_000);
      // The producer's peak is read just before it exits on its own: poll it while it runs.
      let producerPeak = 0;
      const sampler = setInterval(() => {
        if (producer.exitCode === null) {
          try {
            // Just started or just ended, a process may have no memory figures yet (NaN).
            producerPeak = Math.max(producerPeak, peakMiB(producer.pid) || 0);
          } catch {
            // It has just exited.
          }
        }
      }, 50);
      expect((await producer.exited).code).toBe(0);
      clearInterval(sampler);
      const produced = Date.now() - began;
      await recorder.waitFor(LAST_HOUR, 600_000);
      const aggregated = Date.now() - began;
      await eventually(
        async () => (await redis.hget('averages_consumer_state', 'last_seq')) === '24',
        60_000,
      );
      const peaks = {
        producer: producerPeak,
        aggregator: peakMiB(pipeline.process('aggregator')!.pid),
        averages: peakMiB(pipeline.process('averages')!.pid),
      };
      const memory = await redis.info('memory');
      const redisMiB = (field: string) =>
        Math.round(Number(new RegExp(`${field}:(\\d+)`).exec(memory)?.[1]) / 2 ** 20);
      await pipeline.stop();

      const readings = await checkPartitions(redis, RUN);
      const averages = checkAverages(recorder.seen, expectedHours(RUN));
      const fault = `load: ${RUN.devices} devices × 1 day`;
      const notes = [
        `producer ${rate(READINGS, produced)} (${(produced / 1000).toFixed(1)} s)`,
        `producer + aggregator end to end ${rate(READINGS, aggregated)} (${(aggregated / 1000).toFixed(1)} s)`,
        `peak RSS ${SERVICES.map((s) => `${s} ${peaks[s]} MiB`).join(', ')}`,
        `Redis used_memory ${redisMiB('used_memory')} MiB (peak ${redisMiB('used_memory_peak')} MiB)`,
      ].join('; ');
      recordRow({ fault, injected: READINGS, checkedIn: 'partitions', ...readings, notes });
      recordRow({ fault, injected: READINGS, checkedIn: 'temps:averages', ...averages });

      expect(pipeline.crashes).toEqual([]);
      expect(readings).toEqual({ checked: READINGS, lost: 0, doubled: 0, wrong: 0 });
      expect(averages).toEqual({ checked: 24, lost: 0, doubled: 0, wrong: 0 });
    } finally {
      await pipeline.stop();
      await recorder.stop();
      await server.stop();
    }
  });
});
