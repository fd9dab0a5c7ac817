import {
  ServiceProcess,
  actualAverages,
  eventually,
  expectedAverages,
  freePort,
  runService,
  snapshotRedis,
  metricValue,
  useServiceHarness,
} from '@temps/testing';
import {
  DAY_MS,
  READING_REJECT_REASONS,
  PARTITION_SKIP_REASONS,
  partitionKeysBetween,
} from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const days = (n: number) => partitionKeysBetween(JAN_1_2025, JAN_1_2025 + n * DAY_MS);

describe('aggregator', () => {
  const harness = useServiceHarness();
  let redis: Redis;
  beforeAll(() => (redis = harness.redis));
  const env = () => harness.env();
  const produce = (...args: string[]) => runService('producer', args, env());
  async function aggregate(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const { child: aggregator, base } = await harness.start('aggregator', args, extraEnv);
    return { aggregator, base };
  }
  const waitingAtEnd = (aggregator: ServiceProcess, last: string) =>
    aggregator.waitFor(
      `Waiting for new messages in stream ${last}, or new stream partition.`,
      60_000,
    );

  it('averages every hour over all devices, with the seed fields, moving through partitions without idling', async () => {
    await produce('--days', '4', '--devices', '3', '--seed', '11');
    const { aggregator } = await aggregate(['temps:20250101']);
    await waitingAtEnd(aggregator, 'temps:20250104');

    const expected = await expectedAverages(redis, days(4));
    expect(expected).toHaveLength(96);
    const actual = await actualAverages(redis);
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
    expect(actual.map((a) => a.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(actual[0].observations).toBe('10800');

    const [[, fields]] = await redis.xrange('temps:averages', '-', '+', 'COUNT', 1);
    expect(fields.filter((_, i) => i % 2 === 0)).toEqual([
      'hour',
      'date',
      'average_temp_f',
      'num_observations',
      'mean_temp_f',
      'min_temp_f',
      'max_temp_f',
      'seq',
    ]);
    // It never sat waiting at a day boundary: the only wait is at the end.
    expect(aggregator.stdout.split('\n').filter((l) => l.startsWith('Waiting'))).toHaveLength(1);
    expect(aggregator.stdout).toContain(
      'Starting aggregating consumer in stream temps:20250101 at message 0.',
    );
    for (const key of days(4).slice(1)) {
      expect(aggregator.stdout).toContain(`Changing partition to consume stream: ${key}`);
    }
    expect(await redis.hgetall('aggregating_consumer_state')).toEqual(
      expect.objectContaining({
        current_stream_key: 'temps:20250104',
        current_hourly_total: '0',
        current_hourly_count: '0',
      }),
    );
  });

  it('emits the last hour of a bounded run (240 for 10 days) and caps temps:averages at 120', async () => {
    await produce('--seed', '5');
    const { aggregator, base } = await aggregate(['temps:20250101']);
    await waitingAtEnd(aggregator, 'temps:20250110');
    const expected = await expectedAverages(redis, days(10));
    expect(expected).toHaveLength(240);
    const actual = await actualAverages(redis);
    expect(actual).toHaveLength(120);
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected.slice(120));
    expect(actual[119]).toEqual(
      expect.objectContaining({ date: '2025/01/10', hour: '23', seq: 240 }),
    );
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(metricValue(text, 'temps_averages_written_total{service="aggregator"}')).toBe(240);
    expect(metricValue(text, 'temps_readings_aggregated_total{service="aggregator"}')).toBe(
      864_000,
    );
    // The per-stream gauges belong to the averages reader alone.
    expect(text).not.toMatch(/^temps_(stream_\w+|aggregator_headroom_seconds)\{/m);
  });

  it('wakes at once for new readings and follows a live producer, closing hours by its watermark', async () => {
    const { aggregator, base } = await aggregate([], { AGGREGATOR_FROM_OLDEST: 'true' });
    await aggregator.waitFor('Waiting for the first stream partition.');
    await harness.start('producer', [
      '--follow',
      '--start',
      '2025-03-01',
      '--speed',
      '7200',
      '--seed',
      '3',
    ]);
    // Two simulated hours a second: the averages of 2025-03-02 follow within seconds.
    await eventually(
      async () =>
        (await actualAverages(redis)).some((a) => a.date === '2025/03/02' && a.hour === '3'),
      30_000,
    );
    expect(aggregator.stdout).toContain(
      'Starting aggregating consumer in stream temps:20250301 at message 0.',
    );
    expect(aggregator.stdout).toContain('Changing partition to consume stream: temps:20250302');
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(metricValue(text, 'temps_aggregator_lag_seconds{service="aggregator"}')).toBeLessThan(
      3 * 3600,
    );
    expect(
      metricValue(text, 'temps_aggregator_partition{stream="temps:20250302",service="aggregator"}'),
    ).toBe(1);
  });

  it('skips a day without a partition once the watermark has passed it', async () => {
    await produce('--days', '3', '--seed', '2', '--interval-ms', '60000');
    await redis.del('temps:20250102');
    const { aggregator, base } = await aggregate(['temps:20250101']);
    await waitingAtEnd(aggregator, 'temps:20250103');
    expect(aggregator.stdout + aggregator.stderr).toContain(
      'Skipping temps:20250102: no readings that day.',
    );
    const actual = await actualAverages(redis);
    expect(actual.map((a) => a.date)).toEqual([
      ...Array(24).fill('2025/01/01'),
      ...Array(24).fill('2025/01/03'),
    ]);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(
      metricValue(text, 'temps_partitions_skipped_total{reason="empty",service="aggregator"}'),
    ).toBe(1);
  });

  it('reports a partition that expired before it was read and carries on from the oldest one left', async () => {
    await produce('--days', '6', '--seed', '2', '--interval-ms', '60000');
    await redis.hset('aggregating_consumer_state', {
      current_stream_key: 'temps:20250102',
      last_message_id: `${JAN_1_2025 + DAY_MS + 600_000}-0`,
      current_hourly_total: '500',
      current_hourly_count: '10',
      current_hour: String(JAN_1_2025 + DAY_MS),
      current_hourly_min: '40',
      current_hourly_max: '60',
    });
    await redis.del('temps:20250101', 'temps:20250102', 'temps:20250103');
    const { aggregator, base } = await aggregate([]);
    await waitingAtEnd(aggregator, 'temps:20250106');
    const log = aggregator.stdout + aggregator.stderr;
    expect(log).toContain('Partition temps:20250102 expired before it was fully read');
    expect(log).toContain('Changing partition to consume stream: temps:20250104');
    const dates = new Set((await actualAverages(redis)).map((a) => a.date));
    expect([...dates]).toEqual(['2025/01/02', '2025/01/04', '2025/01/05', '2025/01/06']);
    const text = await (await fetch(`${base}/metrics`)).text();
    // temps:20250102 was being read; temps:20250103 ended more than the retention before the watermark.
    expect(
      metricValue(text, 'temps_partitions_skipped_total{reason="expired",service="aggregator"}'),
    ).toBe(2);
  });

  it('counts bad entries by reason, leaves them out of the averages and ignores foreign keys', async () => {
    await produce('--days', '1', '--seed', '8');
    const expected = await expectedAverages(redis, days(1));
    const lastSecond = JAN_1_2025 + DAY_MS - 1_000;
    await redis.xadd('temps:20250101', `${lastSecond + 100}-0`, 'temp_f', 'warm');
    await redis.xadd('temps:20250101', `${lastSecond + 200}-0`, 'humidity', '40');
    await redis.xadd('temps:20250101', `${lastSecond + 300}-0`, 'temp_f', '70', 'colour', 'red');
    await redis.xadd('temps:20250101', `${lastSecond + 400}-0`, 'temp_f', '1e309');
    await redis.xadd('temps:20250101', `${lastSecond + 500}-0`, 'temp_f', '100000');
    await redis.xadd('temps:garbage', '*', 'temp_f', '1');
    await redis.set('temps:19990101x', 'not a stream');
    const { aggregator, base } = await aggregate(['temps:20250101']);
    await waitingAtEnd(aggregator, 'temps:20250101');
    const actual = await actualAverages(redis);
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const reason of ['not_a_number', 'missing_temp', 'unexpected_field', 'out_of_range']) {
      expect(
        metricValue(text, `temps_readings_rejected_total{reason="${reason}",service="aggregator"}`),
      ).toBeGreaterThanOrEqual(1);
    }
    expect(aggregator.stderr + aggregator.stdout).toMatch(
      /Left unusable entries out of the averages/,
    );
  });

  it('exposes every reject and skip reason at 0 from the start, and its headroom against expiry', async () => {
    await produce('--days', '2', '--seed', '4', '--interval-ms', '60000');
    const { aggregator, base } = await aggregate(['temps:20250101']);
    await waitingAtEnd(aggregator, 'temps:20250102');
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const reason of READING_REJECT_REASONS)
      expect([
        reason,
        metricValue(text, `temps_readings_rejected_total{reason="${reason}",service="aggregator"}`),
      ]).toEqual([reason, 0]);
    for (const reason of PARTITION_SKIP_REASONS)
      expect([
        reason,
        metricValue(
          text,
          `temps_partitions_skipped_total{reason="${reason}",service="aggregator"}`,
        ),
      ]).toEqual([reason, 0]);

    // The averages reader owns the per-stream gauges and the headroom, and reports them while the
    // aggregator is stopped. Waiting at the end of temps:20250102: that partition is the oldest one
    // not finished.
    await aggregator.kill('SIGKILL');
    const { base: reader } = await harness.start('averages', []);
    const gauges = await eventually(async () => {
      const body = await (await fetch(`${reader}/metrics`).catch(() => null))?.text();
      return body?.includes('temps_aggregator_headroom_seconds{') ? body : null;
    }, 20_000);
    const partition = 'stream="temps:20250102",service="averages"';
    expect(metricValue(gauges, `temps_stream_length{${partition}}`)).toBe(24 * 60);
    expect(metricValue(gauges, `temps_stream_ttl_seconds{${partition}}`)).toBeGreaterThan(0);
    expect(metricValue(gauges, `temps_stream_memory_bytes{${partition}}`)).toBeGreaterThan(0);
    expect(
      metricValue(gauges, 'temps_redis_memory_used_bytes{service="averages"}'),
    ).toBeGreaterThan(0);
    const ttl = (await redis.pttl('temps:20250102')) / 1000;
    const headroom = metricValue(gauges, 'temps_aggregator_headroom_seconds{service="averages"}');
    expect(headroom).toBeGreaterThan(ttl - 5);
    expect(headroom).toBeLessThanOrEqual(ttl + 5);
    // Its partition's expiry brought forward (as a slower run or a later stop would): less headroom.
    await redis.pexpire('temps:20250102', 42_000);
    await eventually(async () => {
      const now = await (await fetch(`${reader}/metrics`)).text();
      const value = metricValue(now, 'temps_aggregator_headroom_seconds{service="averages"}');
      return value !== undefined && value <= 42 && value > 30;
    }, 5_000);
  });

  it('serves health and stops cleanly on SIGTERM and SIGINT within 2 s', async () => {
    await produce('--days', '1', '--seed', '1');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { aggregator, base } = await aggregate(signal === 'SIGTERM' ? ['temps:20250101'] : []);
      await aggregator.waitFor('Starting aggregating consumer');
      const health = await eventually(async () => {
        const response = await fetch(`${base}/health`);
        return response.status === 200
          ? ((await response.json()) as { info: Record<string, { status: string }> })
          : null;
      });
      expect(health.info.redis.status).toBe('up');
      expect(health.info.read_loop.status).toBe('up');
      const started = Date.now();
      const finished = await aggregator.kill(signal);
      expect(finished.code).toBe(0);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it('refuses a corrupted state hash with a clear message, never half-using it', async () => {
    await redis.hset('aggregating_consumer_state', {
      current_stream_key: 'temps:20250101',
      last_message_id: 'banana',
      current_hourly_total: '1',
      current_hourly_count: '1',
    });
    const before = await snapshotRedis(redis);
    const { aggregator } = await aggregate([]);
    const finished = await aggregator.exited;
    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain(
      'aggregating_consumer_state is corrupted: last_message_id is not an entry ID',
    );
    expect(await snapshotRedis(redis)).toEqual(before);
  });

  it('refuses a saved partition before 1970 as corrupted state', async () => {
    await redis.hset('aggregating_consumer_state', {
      current_stream_key: 'temps:19691231',
      last_message_id: '0',
      current_hourly_total: '0',
      current_hourly_count: '0',
    });
    const before = await snapshotRedis(redis);
    const finished = await runService('aggregator', [], {
      ...env(),
      PORT: String(await freePort()),
    });
    expect(finished.code).toBe(1);
    expect(finished.stderr.trim()).toMatch(
      /^aggregator: aggregating_consumer_state is corrupted: current_stream_key is not a partition name \("temps:19691231"\)/,
    );
    expect(await snapshotRedis(redis)).toEqual(before);
  });

  it('aggregates temps:99991231, the last day there can be, and waits there', async () => {
    await produce('--start', '9999-12-31', '--days', '1', '--seed', '8');
    const { aggregator } = await aggregate(['temps:99991231']);
    await waitingAtEnd(aggregator, 'temps:99991231');
    const averages = await actualAverages(redis);
    expect(averages).toHaveLength(24);
    expect(averages[23]).toEqual(expect.objectContaining({ date: '9999/12/31', hour: '23' }));
    expect(aggregator.stdout + aggregator.stderr).not.toMatch(/temps:1000/);
  });

  it('without saved state prints the seed hints and exits 1; an invalid key touches nothing', async () => {
    const none = await runService('aggregator', [], { ...env(), PORT: String(await freePort()) });
    expect(none.code).toBe(1);
    expect(none.stdout).toContain(
      'No stream key and last message ID found in Redis.\nStart the consumer with stream key parameter.\n',
    );
    await produce('--days', '1', '--seed', '1');
    const before = await snapshotRedis(redis);
    // Which keys are refused is checked in-process (src/aggregator-config.spec.ts).
    const invalid = await runService('aggregator', ['temps:20250230'], env());
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toBe('Invalid stream key supplied.\n');
    expect(invalid.stderr).toBe('');
    expect(await snapshotRedis(redis)).toEqual(before);
  });

  it('in a container (--from-oldest) starts from the oldest partition, waiting for one if needed', async () => {
    const { aggregator } = await aggregate([], { AGGREGATOR_FROM_OLDEST: 'true' });
    await aggregator.waitFor('Waiting for the first stream partition.');
    await produce('--days', '2', '--seed', '4', '--start', '2025-06-01');
    await aggregator.waitFor(
      'Starting aggregating consumer in stream temps:20250601 at message 0.',
    );
    await waitingAtEnd(aggregator, 'temps:20250602');
    expect(await redis.xlen('temps:averages')).toBe(48);
  });
});
