import {
  AveragesRecorder,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  recordRow,
  startPrivateRedis,
  type PrivateRedis,
  type SimulatedRun,
} from '@temps/testing';
import { FULL, JAN_1_2025, Pipeline, pause, SERVICES, type Service } from './support/pipeline';

// Ten days of three devices (2,592,000 readings, 240 hours), written at full speed while every
// service is killed again and again.
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 10, devices: 3, seed: 5_051 };
const CONSUMER_FAULTS = FULL ? 80 : 20;
const STOP_LIMIT_MS = 2_500;
const LAST_HOUR = `${JAN_1_2025 + 10 * 86_400_000 - 3_600_000}-0`;

describe('process faults: SIGKILL and SIGTERM of every service at random moments', () => {
  let server: PrivateRedis;
  let pipeline: Pipeline;
  let recorder: AveragesRecorder;

  beforeAll(async () => {
    server = await startPrivateRedis();
    pipeline = await Pipeline.create(server.url, RUN);
    recorder = new AveragesRecorder(server.url);
  });
  afterAll(async () => {
    await pipeline.stop();
    await recorder.stop();
    await server.stop();
  });

  it('ends with every reading and every hour exactly once, exact', async () => {
    const redis = server.client();
    SERVICES.forEach((service) => pipeline.start(service));
    const injected = new Map<string, number>();
    const slowStops: string[] = [];
    const stopMs: number[] = [];

    let faults = 0;
    const strike = async (victim: Service) => {
      const signal = Math.random() < 0.5 ? 'SIGKILL' : 'SIGTERM';
      const sentAt = Date.now();
      const finished = await pipeline.kill(victim, signal);
      // A graceful stop ends within the limit with exit code 0, whatever was in flight (or, still
      // loading its code, by the signal itself: it had not begun any work).
      const graceful = finished.code === 0 || finished.signal === 'SIGTERM';
      // A stop is bounded by the service (1.5 s of grace, then Redis closed, exit at the latest
      // 1.8 s after the signal is handled); the rest is this machine's scheduling. This suite runs
      // alone (its Nx target has parallelism off): beside the cluster suites on two cores, 3.0-4.9 s
      // was seen. The compose suite holds `docker compose stop` to 2 s.
      const tookMs = Date.now() - sentAt;
      if (signal === 'SIGTERM') stopMs.push(tookMs);
      if (signal === 'SIGTERM' && (!graceful || tookMs > STOP_LIMIT_MS)) {
        slowStops.push(`${victim}: code ${finished.code} after ${tookMs} ms`);
      }
      const key = `${signal} ${victim}`;
      injected.set(key, (injected.get(key) ?? 0) + 1);
      faults++;
      await pause(0, 300);
      pipeline.start(victim);
    };
    // The producer is struck until its run completes, the consumers meanwhile and after, at once.
    const producerFaults = async () => {
      for (;;) {
        await pause(300, 1_500);
        if (!pipeline.isRunning('producer')) return;
        await strike('producer');
      }
    };
    const consumerFaults = async () => {
      for (let fault = 0; fault < CONSUMER_FAULTS; fault++) {
        await pause(300, 1_500);
        await strike(Math.random() < 0.5 ? 'aggregator' : 'averages');
      }
    };
    await Promise.all([producerFaults(), consumerFaults()]);

    // Then everything runs to the end undisturbed.
    const producerResult = await pipeline.process('producer')!.exited;
    expect(producerResult.code).toBe(0);
    await recorder.waitFor(LAST_HOUR, 120_000);
    await eventually(
      async () => (await redis.hget('averages_consumer_state', 'last_seq')) === '240',
      60_000,
    );
    await pipeline.stop();

    const hours = expectedHours(RUN);
    const readings = await checkPartitions(redis, RUN);
    const problems: string[] = [];
    const averages = checkAverages(recorder.seen, hours, {}, problems);
    const fault = [...injected]
      .sort()
      .map(([key, n]) => `${key} ×${n}`)
      .join(', ');
    recordRow({ fault, injected: faults, checkedIn: 'partitions', ...readings });
    stopMs.sort((a, b) => a - b);
    recordRow({
      fault,
      injected: faults,
      checkedIn: 'temps:averages',
      ...averages,
      notes: `SIGTERM stops ×${stopMs.length}: median ${stopMs[stopMs.length >> 1]} ms, slowest ${stopMs.at(-1)} ms (limit ${STOP_LIMIT_MS} ms)`,
    });

    expect(pipeline.crashes).toEqual([]);
    expect(slowStops).toEqual([]);
    expect(readings).toEqual({ checked: 2_592_000, lost: 0, doubled: 0, wrong: 0 });
    expect(problems).toEqual([]);
    expect(averages).toEqual({ checked: 240, lost: 0, doubled: 0, wrong: 0 });
    // The capped stream keeps the last 120, numbered 121..240.
    const kept = await redis.xrange('temps:averages', '-', '+');
    expect(kept.map(([, fields]) => fields[fields.indexOf('seq') + 1])).toEqual(
      Array.from({ length: 120 }, (_, i) => String(121 + i)),
    );
    // The readers printed only exact averages, and accounted for every hour they did not print.
    const exact = new Set(
      [...hours].map(([hour, { total, count }]) => {
        const iso = new Date(hour).toISOString();
        return `${iso.slice(0, 10).replaceAll('-', '/')} ${new Date(hour).getUTCHours()} ${Math.floor(total / count)} ${count}`;
      }),
    );
    expect(pipeline.printed.filter((line) => !exact.has(line))).toEqual([]);
    expect(new Set(pipeline.printed).size + pipeline.missed).toBeGreaterThanOrEqual(240);
    redis.disconnect();
  });
});
