import {
  actualAverages,
  eventually,
  expectedAverages,
  metricValue,
  useServiceHarness,
} from '@temps/testing';
import {
  DAY_MS,
  HOUR_MS,
  LaneRegistryHash,
  LaneStateHash,
  laneLayout,
  partitionKeyFor,
  partitionKeysBetween,
  type Lane,
} from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

/**
 * Writes lanes as the producers would: the registry, then each lane's entries `<ms>-<i>` (temp_f,
 * device_id) in `temps:YYYYMMDD:{tag}` up to `untilMs[lane]` (exclusive), its watermark moved with
 * each batch in the same transaction (as the producer's batch script does).
 */
async function writeLanes(redis: Redis, lanes: Lane[], fromMs: number, untilMs: number[]) {
  const shards = Math.max(...lanes.map((l) => l.index)) + 1;
  const last = lanes.find((l) => l.index === shards - 1)!;
  const run = {
    runId: 'run-1',
    startMs: JAN_1_2025,
    endMs: null,
    intervalMs: 1_000,
    devices: last.firstDevice + last.devices,
    seed: 1,
    rate: 1,
    paced: false,
    realStartMs: Date.now(),
  };
  if (!(await redis.exists(LaneRegistryHash.KEY))) {
    await redis.hset(LaneRegistryHash.KEY, LaneRegistryHash.serialize(run, shards));
  }
  for (const lane of lanes) {
    const state = LaneStateHash.keyOf(lane.tag);
    await redis.hset(state, LaneStateHash.FIELDS.runId, 'run-1');
    for (let batch = fromMs; batch < untilMs[lane.index]; batch += 1_000_000) {
      const batchEnd = Math.min(batch + 1_000_000, untilMs[lane.index]);
      const tx = redis.multi();
      for (let ms = batch; ms < batchEnd; ms += 1_000) {
        for (let i = 0; i < lane.devices; i++) {
          const device = lane.firstDevice + i;
          // Integers and halves, different per device and second.
          const temp = ((ms / 1_000) * 7 + device * 13) % 101;
          const value = device % 2 === 0 ? String(temp) : `${temp}.5`;
          tx.xadd(
            partitionKeyFor(ms, lane.tag),
            `${ms}-${i}`,
            'temp_f',
            value,
            'device_id',
            String(device),
          );
        }
      }
      tx.hset(state, LaneStateHash.FIELDS.watermarkMs, String(batchEnd));
      await tx.exec();
    }
  }
}

const lanePartitions = (lanes: Lane[], days: number) =>
  lanes.flatMap((lane) => partitionKeysBetween(JAN_1_2025, JAN_1_2025 + days * DAY_MS, lane.tag));

describe('aggregator over lanes (PRODUCER_SHARDS)', () => {
  const harness = useServiceHarness();
  const aggregate = (extra: NodeJS.ProcessEnv = {}) =>
    harness.start('aggregator', ['--from-oldest'], { PRODUCER_SHARDS: '3', ...extra });

  it('publishes one average an hour over every lane, exactly once across a SIGKILL', async () => {
    const { redis } = harness;
    const lanes = laneLayout(3, 5);
    const end = JAN_1_2025 + DAY_MS;
    await writeLanes(redis, lanes, JAN_1_2025, [end, end, end]);

    const first = await aggregate();
    await eventually(async () => (await redis.xlen('temps:averages')) >= 3, 60_000);
    await first.child.kill('SIGKILL');
    const second = await aggregate();
    await eventually(async () => (await redis.xlen('temps:averages')) === 24, 60_000);

    const expected = await expectedAverages(redis, lanePartitions(lanes, 1));
    const actual = await actualAverages(redis);
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
    expect(actual.map((a) => a.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(new Set(actual.map((a) => a.observations))).toEqual(new Set(['18000']));
    expect(second.child.stdout).toContain(
      `Starting aggregating consumer in stream ${partitionKeyFor(JAN_1_2025, lanes[2].tag)}`,
    );
    // The lanes state shares the slot of temps:averages; the exercise's key is left alone.
    expect(await redis.exists('aggregating_consumer_state')).toBe(0);
    expect(await redis.hget('aggregating_consumer_state{temps:averages}', 'shards')).toBe('3');
  });

  it('holds hours back while one lane is behind, names it, and turns unhealthy past the stall limit', async () => {
    const { redis } = harness;
    const lanes = laneLayout(3, 3);
    const fourHours = JAN_1_2025 + 4 * HOUR_MS;
    const twoHours = JAN_1_2025 + 2 * HOUR_MS;
    await writeLanes(redis, lanes, JAN_1_2025, [fourHours, twoHours, fourHours]);
    const { child, base } = await aggregate({ AGGREGATOR_LANE_STALL_MS: '2000' });

    // Lane 1's watermark is at 02:00: hours 0 and 1 close, nothing after.
    await eventually(async () => (await redis.xlen('temps:averages')) === 2, 30_000);
    await child.waitFor(`Lane ${lanes[1].tag} holds every hour back`, 30_000);
    await eventually(async () => (await fetch(`${base}/health`)).status === 503, 30_000);
    const health = await (await fetch(`${base}/health`)).text();
    expect(health).toContain(`lane ${lanes[1].tag} has held the watermark back`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(
      metricValue(
        metrics,
        `temps_aggregator_lane_lag_seconds{lane="${lanes[1].tag}",service="aggregator"}`,
      ),
    ).toBe(7_200);
    expect(
      metricValue(
        metrics,
        `temps_aggregator_lane_lag_seconds{lane="${lanes[0].tag}",service="aggregator"}`,
      ),
    ).toBe(0);
    expect(await redis.xlen('temps:averages')).toBe(2);

    // The lane catches up: the held hours close, health comes back.
    await writeLanes(redis, [lanes[1]], twoHours, [0, fourHours]);
    await eventually(async () => (await redis.xlen('temps:averages')) === 4, 30_000);
    await eventually(async () => (await fetch(`${base}/health`)).status === 200, 30_000);
    const expected = await expectedAverages(redis, lanePartitions(lanes, 1));
    expect((await actualAverages(redis)).map(({ seq: _seq, ...rest }) => rest)).toEqual(
      expected.slice(0, 4),
    );
  });

  it('reads a lane only below its confirmed mark (REDIS_WAIT_REPLICAS), not counting the rest as early', async () => {
    const { redis } = harness;
    const lanes = laneLayout(3, 3);
    const fourHours = JAN_1_2025 + 4 * HOUR_MS;
    await writeLanes(redis, lanes, JAN_1_2025, [fourHours, fourHours, fourHours]);
    // Lane 1's replicas hold its readings up to 02:00 only: a failover could still lose the rest.
    const confirm = (ms: number) =>
      redis.hset(LaneStateHash.keyOf(lanes[1].tag), LaneStateHash.FIELDS.confirmedMs, String(ms));
    await confirm(JAN_1_2025 + 2 * HOUR_MS);
    const { child, base } = await aggregate();

    await eventually(async () => (await redis.xlen('temps:averages')) === 2, 30_000);
    await child.waitFor(`Lane ${lanes[1].tag} holds every hour back`, 30_000);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(
      metricValue(
        metrics,
        `temps_aggregator_lane_lag_seconds{lane="${lanes[1].tag}",service="aggregator"}`,
      ),
    ).toBe(7_200);
    expect(child.stdout).not.toMatch(/early/i);
    expect(await redis.xlen('temps:averages')).toBe(2);

    await confirm(fourHours);
    await eventually(async () => (await redis.xlen('temps:averages')) === 4, 30_000);
    const expected = await expectedAverages(redis, lanePartitions(lanes, 1));
    expect((await actualAverages(redis)).map(({ seq: _seq, ...rest }) => rest)).toEqual(
      expected.slice(0, 4),
    );
    expect(new Set((await actualAverages(redis)).map((a) => a.observations))).toEqual(
      new Set(['10800']),
    );
  });

  it('keeps the rules for late and early readings, per lane', async () => {
    const { redis } = harness;
    const lanes = laneLayout(2, 2);
    const hour = (h: number) => JAN_1_2025 + h * HOUR_MS;
    await writeLanes(redis, lanes, JAN_1_2025, [hour(3), hour(3)]);
    const { child, base } = await aggregate({ PRODUCER_SHARDS: '2' });
    const until = (what: string, probe: () => Promise<boolean>) =>
      eventually(probe, 30_000).catch((error) => {
        throw new Error(`${what}: ${error}\n${child.stdout}${child.stderr}`);
      });
    await until('3 averages', async () => (await redis.xlen('temps:averages')) === 3);
    const rejected = async (reason: string) =>
      metricValue(
        await (await fetch(`${base}/metrics`)).text(),
        `temps_readings_rejected_total{reason="${reason}",service="aggregator"}`,
      );

    // Early: lane 1 holds an hour of readings and one more, ahead of its watermark (03:00). Those
    // of the hour it folds are counted once; all are held and close nothing, although lane 0 moves
    // on to 05:00.
    await writeLanes(redis, [lanes[0]], hour(3), [hour(5)]);
    const key1 = partitionKeyFor(hour(3), lanes[1].tag);
    const ahead = redis.pipeline();
    for (let ms = hour(3); ms <= hour(4); ms += 1_000) {
      ahead.xadd(key1, `${ms}-0`, 'temp_f', '50', 'device_id', '1');
    }
    await ahead.exec();
    await until('3600 early', async () => (await rejected('early')) === 3_600);
    // Late: once lane 0 has closed hour 4, a reading of it written there is left out.
    const lane0 = 'aggregating_consumer_state{temps:averages}';
    await until(
      'lane 0 at 05:00',
      async () => (await redis.hget(lane0, 'lane:0:published_until_ms')) === String(hour(5)),
    );
    await redis.xadd(
      partitionKeyFor(hour(4), lanes[0].tag),
      `${hour(5) - 1}-5`,
      'temp_f',
      '1',
      'device_id',
      '0',
    );
    await until('1 late', async () => (await rejected('late')) === 1);
    expect(await redis.xlen('temps:averages')).toBe(3);

    // Lane 1's watermark reaches 05:00: its held readings are read, and hours 3 and 4 close.
    await redis.hset(
      LaneStateHash.keyOf(lanes[1].tag),
      LaneStateHash.FIELDS.watermarkMs,
      String(hour(5)),
    );
    await until('5 averages', async () => (await redis.xlen('temps:averages')) === 5);
    // Said once per wait, not once per turn.
    expect(child.stdout.match(/^Waiting for new messages/gm)?.length ?? 0).toBeLessThanOrEqual(3);
    const observations = (await redis.xrange('temps:averages', `${hour(3)}-0`, '+')).map(
      ([, f]) => f[f.indexOf('num_observations') + 1],
    );
    expect(observations).toEqual(['7200', '3601']);
    expect(await rejected('early')).toBe(3_600);
    expect(await rejected('late')).toBe(1);
  });

  it('marks partial every hour published while a lane had lost its share (its partition gone)', async () => {
    const { redis } = harness;
    const lanes = laneLayout(2, 2);
    const end = JAN_1_2025 + 2 * DAY_MS;
    await writeLanes(redis, lanes, JAN_1_2025, [end, end]);
    // Lane 1's first day disappears before the aggregator reads it (evicted: within its retention).
    await redis.del(partitionKeyFor(JAN_1_2025, lanes[1].tag));
    await aggregate({ PRODUCER_SHARDS: '2' });
    await eventually(async () => (await redis.xlen('temps:averages')) === 48, 60_000);
    const fields = (await redis.xrange('temps:averages', '-', '+')).map(([, f]) =>
      Object.fromEntries(f.flatMap((v, i) => (i % 2 ? [] : [[v, f[i + 1]]]))),
    );
    const [first, second] = [fields.slice(0, 24), fields.slice(24)];
    expect(new Set(first.map((f) => `${f.num_observations} ${f.partial}`))).toEqual(
      new Set(['3600 evicted']),
    );
    expect(new Set(second.map((f) => `${f.num_observations} ${f.partial}`))).toEqual(
      new Set(['7200 undefined']),
    );
  });

  it('two aggregators over the same lanes: one writes, the other stands by, every hour once', async () => {
    const { redis } = harness;
    const lanes = laneLayout(3, 3);
    const end = JAN_1_2025 + DAY_MS;
    await writeLanes(redis, lanes, JAN_1_2025, [end, end, end]);
    const [a, b] = await Promise.all([aggregate(), aggregate()]);
    await eventually(async () => (await redis.xlen('temps:averages')) === 24, 60_000);
    const expected = await expectedAverages(redis, lanePartitions(lanes, 1));
    const actual = await actualAverages(redis);
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
    expect(actual.map((x) => x.seq)).toEqual(expected.map((_, i) => i + 1));
    // At most one of them stood by (the other may have finished first).
    const standing = [a, b].filter((s) =>
      s.child.stderr.includes(
        'Another aggregator is writing aggregating_consumer_state{temps:averages}',
      ),
    );
    expect(standing.length).toBeLessThanOrEqual(1);
  });

  it('refuses to start with a lane count other than the run has, in one line', async () => {
    const { redis } = harness;
    await writeLanes(redis, laneLayout(2, 2), JAN_1_2025, [JAN_1_2025, JAN_1_2025]);
    const { child } = await aggregate();
    const { code } = await child.exited;
    expect(code).not.toBe(0);
    expect(child.stdout + child.stderr).toContain(
      "PRODUCER_SHARDS is 3, but the producers' run has 2 lanes; start the aggregator with PRODUCER_SHARDS=2.",
    );
  });
});
