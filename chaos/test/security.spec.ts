import {
  AveragesRecorder,
  ServiceProcess,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  recordRow,
  startPrivateRedis,
  type SimulatedRun,
} from '@temps/testing';
import { Redis } from 'ioredis';
import { JAN_1_2025, Pipeline } from './support/pipeline';

// Two days of one device (172,800 readings, 48 hours).
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 2, devices: 1, seed: 77 };
const SECRET = 'c0rrect-h0rse-battery-staple';
const LAST_HOUR = `${JAN_1_2025 + 2 * 86_400_000 - 3_600_000}-0`;

describe('security: a Redis with a password', () => {
  it('runs the pipeline through REDIS_URL and never shows the password', async () => {
    const server = await startPrivateRedis({ password: SECRET });
    const url = `redis://:${SECRET}@127.0.0.1:${server.port}`;
    const admin = new Redis(url);
    const pipeline = await Pipeline.create(url, RUN);
    const recorder = new AveragesRecorder(url);
    const outputs: string[] = [];
    try {
      pipeline.start('aggregator');
      pipeline.start('averages');
      pipeline.start('producer');
      // Once all three are connected, dropped connections make each reconnect and retry.
      await eventually(
        async () =>
          (await admin.exists('temps:20250101')) === 1 &&
          (await pipeline.health('aggregator')) === 200 &&
          (await pipeline.health('averages')) === 200,
        30_000,
      );
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      }
      outputs.push((await pipeline.process('producer')!.exited).stdout);
      await recorder.waitFor(LAST_HOUR, 60_000).catch((error) => {
        throw new Error(`${error}\n${pipeline.describe()}`);
      });
      for (const service of ['aggregator', 'averages'] as const) {
        outputs.push(
          await (await fetch(`http://127.0.0.1:${pipeline.ports[service]}/metrics`)).text(),
        );
        outputs.push(
          await (await fetch(`http://127.0.0.1:${pipeline.ports[service]}/health`)).text(),
        );
      }
      // Refusals quote the address, not the password: a wrong one, and a server that is gone.
      for (const badUrl of [
        `redis://:wrong-${SECRET}@127.0.0.1:${server.port}`,
        `redis://:${SECRET}@127.0.0.1:1`,
      ]) {
        const refused = await new ServiceProcess('producer', ['--days', '1'], {
          REDIS_URL: badUrl,
        }).exited;
        expect(refused.code).toBe(1);
        outputs.push(refused.stdout, refused.stderr);
      }
      await pipeline.stop();
      for (const service of ['producer', 'aggregator', 'averages'] as const) {
        const child = pipeline.process(service)!;
        outputs.push(child.stdout, child.stderr);
      }

      const leaks = outputs.filter((text) => text.includes(SECRET) || text.includes('c0rrect'));
      const readings = await checkPartitions(admin, RUN);
      const averages = checkAverages(recorder.seen, expectedHours(RUN));
      const fault = 'password in REDIS_URL, connections killed, refusals';
      recordRow({ fault, injected: 7, checkedIn: 'partitions', ...readings });
      recordRow({ fault, injected: 7, checkedIn: 'temps:averages', ...averages });

      expect(pipeline.crashes).toEqual([]);
      expect(leaks).toEqual([]);
      expect(outputs.join('\n')).toContain('redis://:***@127.0.0.1');
      expect(readings).toEqual({ checked: 172_800, lost: 0, doubled: 0, wrong: 0 });
      expect(averages).toEqual({ checked: 48, lost: 0, doubled: 0, wrong: 0 });
    } finally {
      await pipeline.stop();
      await recorder.stop();
      admin.disconnect();
      await server.stop();
    }
  });
});
