import {
  actualAverages,
  eventually,
  expectedAverages,
  metricValue,
  runService,
  useServiceHarness,
} from '@temps/testing';
import { DAY_MS, HOUR_MS, partitionKeysBetween } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const MAR_1_2025 = Date.UTC(2025, 2, 1);
const rejected = (text: string, reason: string) =>
  metricValue(text, `temps_readings_rejected_total{reason="${reason}",service="aggregator"}`) ?? 0;
const aggregated = (text: string) =>
  metricValue(text, 'temps_readings_aggregated_total{service="aggregator"}');

describe('aggregator: readings that arrive late or early', () => {
  const harness = useServiceHarness();
  let redis: Redis;
  beforeAll(() => (redis = harness.redis));
  const env = () => harness.env();

  async function start(service: string, args: string[]) {
    const { child, base } = await harness.start(service, args);
    const metrics = async () => (await fetch(`${base}/metrics`)).text();
    return { child, metrics };
  }

  it('counts and logs a reading of an hour already published as late, before and after a restart; the average stays', async () => {
    await runService('producer', ['--days', '2', '--seed', '4'], env());
    const { child, metrics } = await start('aggregator', ['temps:20250101']);
    const last = 'temps:20250102';
    await child.waitFor(`Waiting for new messages in stream ${last}, or new stream partition.`);
    const averages = await actualAverages(redis);
    expect(averages).toHaveLength(48);

    // The last millisecond of the last hour, whose average is already on temps:averages.
    const end = JAN_1_2025 + 2 * DAY_MS;
    await redis.xadd(last, `${end - 1}-6`, 'temp_f', '50');
    await eventually(async () => rejected(await metrics(), 'late') === 1);
    expect(aggregated(await metrics())).toBe(2 * 86_400);
    await eventually(() =>
      /Left unusable entries out of the averages \(late: 1\)/.test(child.stderr + child.stdout),
    );

    // Killed and started again, it still knows which hours are published.
    await child.kill('SIGKILL');
    const again = await start('aggregator', []);
    await again.child.waitFor('Starting aggregating consumer');
    await redis.xadd(last, `${end - 1}-7`, 'temp_f', '-40');
    await redis.xadd(last, `${end - 1}-8`, 'temp_f', 'warm');
    // The reading of a published hour is late, whatever its fields.
    await eventually(async () => rejected(await again.metrics(), 'late') === 2);
    expect(aggregated(await again.metrics())).toBe(0);
    expect(await actualAverages(redis)).toEqual(averages);
  });

  it('counts and logs readings written into partitions it has left as late, before and after a restart', async () => {
    await runService('producer', ['--days', '3', '--seed', '5'], env());
    const { child, metrics } = await start('aggregator', ['temps:20250101']);
    await child.waitFor(
      'Waiting for new messages in stream temps:20250103, or new stream partition.',
    );
    const averages = await actualAverages(redis);
    expect(averages).toHaveLength(72);
    await redis.xadd('temps:20250101', `${JAN_1_2025 + DAY_MS - 1}-5`, 'temp_f', '50');
    await redis.xadd('temps:20250102', `${JAN_1_2025 + 2 * DAY_MS - 1}-5`, 'temp_f', '50');
    await redis.xadd('temps:20250102', `${JAN_1_2025 + 2 * DAY_MS - 1}-6`, 'temp_f', '51');
    await eventually(async () => rejected(await metrics(), 'late') === 3);
    await eventually(() =>
      /Left [0-9] late readings? out of the averages, written into partitions already aggregated: .*temps:20250102 \([12]\)/.test(
        child.stderr + child.stdout,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(rejected(await metrics(), 'late')).toBe(3); // each counted once

    await child.kill('SIGKILL');
    const again = await start('aggregator', []);
    await again.child.waitFor('Waiting for new messages');
    await redis.xadd('temps:20250101', `${JAN_1_2025 + DAY_MS - 1}-6`, 'temp_f', '52');
    await eventually(async () => rejected(await again.metrics(), 'late') === 1);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(rejected(await again.metrics(), 'late')).toBe(1);
    expect(aggregated(await again.metrics())).toBe(0);
    expect(await actualAverages(redis)).toEqual(averages);
  });

  it('a reading from a clock a day fast closes nothing: the day is aggregated whole, by the watermark', async () => {
    // One simulated day every 12 s; the device writes tomorrow's 10:00 while today is at ~02:00.
    const producer = await start('producer', [
      '--follow',
      '--start',
      '2025-03-01',
      '--speed',
      '7200',
      '--seed',
      '12',
    ]);
    const { child, metrics } = await start('aggregator', ['temps:20250301']);
    await eventually(
      async () =>
        Number(await redis.hget('producer_state', 'watermark_ms')) > MAR_1_2025 + 2 * HOUR_MS,
    );
    const earlyId = `${MAR_1_2025 + DAY_MS + 10 * HOUR_MS}-0`;
    await redis.xadd('temps:20250302', earlyId, 'temp_f', '99');
    await eventually(async () => rejected(await metrics(), 'early') === 1);
    await child.waitFor("ahead of the producer's watermark");
    expect(child.stdout).not.toContain('Changing partition to consume stream: temps:20250302');

    // Every hour of the day is aggregated from all its readings, the last one by the watermark.
    await eventually(
      async () =>
        (await actualAverages(redis)).some((a) => a.date === '2025/03/01' && a.hour === '23'),
      60_000,
    );
    const day = (await actualAverages(redis)).filter((a) => a.date === '2025/03/01');
    expect(day).toHaveLength(24);
    expect(day.every((a) => a.observations === '3600')).toBe(true);
    expect(rejected(await metrics(), 'early')).toBe(1);

    // The producer is held by the entry (it would have to write before it); once it is deleted,
    // the next day is aggregated whole too: the early reading hid nothing.
    await producer.child.waitFor('which this producer did not write', 30_000);
    await redis.xdel('temps:20250302', earlyId);
    await eventually(
      async () =>
        (await actualAverages(redis)).some((a) => a.date === '2025/03/02' && a.hour === '11'),
      60_000,
    );
    const next = (await actualAverages(redis)).filter((a) => a.date === '2025/03/02');
    expect(next.every((a) => a.observations === '3600')).toBe(true);
  });

  it('a reading ahead of the watermark in the current partition waits and hides none of the readings written after it is gone', async () => {
    const producer = await start('producer', [
      '--follow',
      '--start',
      '2025-03-01',
      '--speed',
      '7200',
      '--seed',
      '13',
    ]);
    const { child, metrics } = await start('aggregator', ['temps:20250301']);
    await eventually(
      async () =>
        Number(await redis.hget('producer_state', 'watermark_ms')) > MAR_1_2025 + 2 * HOUR_MS,
    );
    const earlyId = `${MAR_1_2025 + 20 * HOUR_MS}-0`;
    await redis.xadd('temps:20250301', earlyId, 'temp_f', '99');
    await eventually(async () => rejected(await metrics(), 'early') === 1);
    await producer.child.waitFor('which this producer did not write', 30_000);
    await redis.xdel('temps:20250301', earlyId);
    await eventually(
      async () =>
        (await actualAverages(redis)).some((a) => a.date === '2025/03/02' && a.hour === '0'),
      60_000,
    );
    const expected = await expectedAverages(redis, ['temps:20250301']);
    const actual = (await actualAverages(redis)).filter((a) => a.date === '2025/03/01');
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
    expect(actual.every((a) => a.observations === '3600')).toBe(true);
    expect(child.stdout).toContain('Changing partition to consume stream: temps:20250302');
  });

  it('without a producer watermark keeps the exercise rule: the next partition completes the day', async () => {
    // Data as another producer writes it: no producer_state.
    for (let s = 0; s < 7_200; s += 60) {
      await redis.xadd(
        'temps:20250101',
        `${JAN_1_2025 + s * 1_000}-0`,
        'temp_f',
        String(40 + (s % 7)),
      );
    }
    await redis.xadd('temps:20250102', `${JAN_1_2025 + DAY_MS}-0`, 'temp_f', '50');
    const { child } = await start('aggregator', ['temps:20250101']);
    await child.waitFor('Changing partition to consume stream: temps:20250102');
    await eventually(async () => (await actualAverages(redis)).length === 2);
    const expected = await expectedAverages(
      redis,
      partitionKeysBetween(JAN_1_2025, JAN_1_2025 + DAY_MS),
    );
    expect((await actualAverages(redis)).map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
  });
});
