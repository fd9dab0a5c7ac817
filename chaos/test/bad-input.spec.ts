import {
  AveragesRecorder,
  checkAverages,
  checkPartitions,
  eventually,
  expectedHours,
  metricValue,
  recordRow,
  ServiceProcess,
  snapshotRedis,
  startPrivateRedis,
  type PrivateRedis,
  type SimulatedRun,
} from '@temps/testing';
import {
  DAY_MS,
  HOUR_MS,
  partitionDayStart,
  partitionKeysBetween,
  startOfDay,
} from '@temps/streams';
import type { Redis } from 'ioredis';
import { FULL, JAN_1_2025, Pipeline, pause } from './support/pipeline';

// Six days of two devices (1,036,800 readings, 144 hours).
const RUN: SimulatedRun = { startMs: JAN_1_2025, days: 6, devices: 2, seed: 404 };
const LAST_HOUR = `${JAN_1_2025 + 6 * DAY_MS - HOUR_MS}-0`;
const ROUNDS = FULL ? 20 : 4;

/** Malformed readings, each with the reason the aggregator must give for leaving it out. */
const BAD_READINGS: [reason: string, fields: string[]][] = [
  ['missing_temp', ['device_id', 'device-1']],
  ['not_a_number', ['temp_f', 'warm']],
  ['not_a_number', ['temp_f', '']],
  ['not_a_number', ['temp_f', '\u00ff\u00fe\u0000']],
  ['not_a_number', ['temp_f', '7'.repeat(100) + 'x'.repeat(100_000)]],
  ['out_of_range', ['temp_f', '9'.repeat(400)]],
  ['out_of_range', ['temp_f', '-1000000']],
  ['unexpected_field', ['temp_f', '70', 'note', 'hello']],
];

/** Entries on temps:averages that are not averages: the reader skips and counts them. */
const BAD_AVERAGES: string[][] = [
  ['hello', 'world'],
  ['date', '2025/01/01', 'hour', '25', 'average_temp_f', '50', 'num_observations', '1', 'seq', '1'],
  ['date', 'yesterday', 'average_temp_f', 'NaN'],
];

/** Appends fields right after a stream's newest entry (same millisecond, next sequence number). */
const APPEND_AFTER_NEWEST = `
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local ms, seq = string.match(newest[1], '^(%d+)-(%d+)$')
local id = ms .. '-' .. (tonumber(seq) + 1)
redis.call('XADD', KEYS[1], id, unpack(ARGV))
return id
`;

async function appendAfterNewest(redis: Redis, key: string, fields: string[]): Promise<string> {
  return (await redis.eval(APPEND_AFTER_NEWEST, 1, key, ...fields)) as string;
}

async function metrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

describe('bad input injected into a running pipeline', () => {
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('refuses malformed and oversized arguments and environment values: one clear line, exit 1, Redis unchanged', async () => {
    await redis.xadd('temps:20250101', '1735689600000-0', 'temp_f', '70');
    const huge = '9'.repeat(100_000);
    const cases: [string, string[], NodeJS.ProcessEnv][] = [
      ['producer', ['--days', huge], {}],
      ['producer', ['--devices', '1e9'], {}],
      ['producer', ['--seed', '-1'], {}],
      ['producer', ['--start', 'x'.repeat(100_000)], {}],
      ['producer', ['--speed', 'NaN'], {}],
      ['producer', ['--interval-ms', '0x10'], {}],
      ['producer', ['--days', '2', '--days'], {}],
      ['producer', [], { PRODUCER_DAYS: huge }],
      ['producer', [], { PRODUCER_FOLLOW: 'sometimes' }],
      ['producer', [], { REDIS_URL: 'http://127.0.0.1:6379' }],
      ['producer', [], { REDIS_URL: 'redis://:@@@:abc' }],
      ['producer', ['--follow'], { PORT: '70000' }],
      ['aggregator', ['temps:2025'], {}],
      ['aggregator', ['temps:20251399'], {}],
      ['aggregator', [huge], {}],
      ['aggregator', [], { AGGREGATOR_FROM_OLDEST: 'perhaps' }],
      ['aggregator', [], { PORT: '-1' }],
      ['averages', [], { PORT: huge }],
      ['averages', ['--unknown'], {}],
      ['averages', [], { REDIS_URL: `redis://127.0.0.1:${server.port}/${huge}` }],
      ['averages', [], { REDIS_URL: `redis://127.0.0.1:${server.port}/99999` }],
    ];
    const before = await snapshotRedis(redis);
    let unclear = 0;
    for (const [service, args, env] of cases) {
      // A service that accepted bad input would run on: it gets 20 s, then counts as failed.
      const child = new ServiceProcess(service, args, { REDIS_URL: server.url, ...env });
      const timer = setTimeout(() => void child.kill('SIGKILL'), 20_000);
      const result = await child.exited;
      clearTimeout(timer);
      const output = (result.stdout + result.stderr).trim();
      const clear =
        result.code === 1 &&
        output.length > 0 &&
        output.length < 500 &&
        !output.includes('    at ') &&
        output.split('\n').length <= 2;
      if (!clear) unclear++;
      expect([service, args.join(' ').slice(0, 40), result.code, output.slice(0, 300)]).toEqual([
        service,
        args.join(' ').slice(0, 40),
        1,
        expect.not.stringContaining('    at '),
      ]);
      expect(output.length).toBeGreaterThan(0);
      expect(output.length).toBeLessThan(500);
    }
    const changed = [...(await snapshotRedis(redis))].filter(([k, v]) => before.get(k) !== v);
    recordRow({
      fault: 'malformed or oversized CLI arguments and environment values',
      injected: cases.length,
      checkedIn: 'Redis snapshot',
      checked: cases.length,
      lost: changed.length,
      doubled: 0,
      wrong: unclear,
    });
    expect(changed).toEqual([]);
    await redis.flushall();
  });

  it('skips and counts what is malformed, refuses what is foreign, and ends exact', async () => {
    // Foreign keys under temps: before anything runs (two under a day's name, one of them the day
    // after the run, which the aggregator watches once it has read the last one).
    await redis.set('temps:garbage', 'x');
    await redis.hset('temps:notes', 'a', '1');
    await redis.set('temps:2025010', 'x');
    await redis.xadd('temps:20251399', '1-0', 'temp_f', '70');
    await redis.hset('temps:20250107', 'a', '1');
    // An empty stream whose ID counter is ahead of everything the run writes that day.
    await redis.xadd('temps:20250112', `${Date.UTC(2025, 0, 12, 5)}-0`, 'temp_f', '1');
    await redis.xdel('temps:20250112', `${Date.UTC(2025, 0, 12, 5)}-0`);
    const foreignKeys = 6;

    const pipeline = await Pipeline.create(server.url, RUN);
    const recorder = new AveragesRecorder(server.url);
    try {
      pipeline.start('producer');
      pipeline.start('aggregator');
      pipeline.start('averages');
      // Freeze the aggregator once it has written an average: the producer runs ahead of it.
      await eventually(async () => (await redis.xlen('temps:averages')) > 0, 60_000);
      pipeline.freeze('aggregator', true);
      await pause(200);
      const frozenAt = (await redis.hget('aggregating_consumer_state', 'current_stream_key'))!;

      // Once the producer is two days past the aggregator, freeze it too.
      const past = partitionDayStart(frozenAt)! + 2 * DAY_MS;
      await eventually(
        async () => Number(await redis.hget('producer_state', 'watermark_ms')) >= past,
        60_000,
        2,
      );
      pipeline.freeze('producer', true);
      await pause(300); // a batch it sent just before may still land
      const watermark = Number(await redis.hget('producer_state', 'watermark_ms'));
      if (watermark >= RUN.startMs + RUN.days * DAY_MS) throw new Error('the run ended too soon');

      // Malformed readings appended to the days the producer has completed and the aggregator has
      // yet to read (within each day, after its last reading).
      const completed = partitionKeysBetween(past - DAY_MS, startOfDay(watermark));
      const injectedReadings = new Set<string>();
      const rejected = new Map<string, number>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const [reason, fields] of BAD_READINGS) {
          const key = completed[round % completed.length];
          const id = await appendAfterNewest(redis, key, fields);
          injectedReadings.add(`${key} ${id}`);
          rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
        }
      }

      // An entry ahead of the producer in its partition: it stops with a clear error, having
      // written nothing of the refused batch; once the entry is gone it resumes.
      const blockedKey = `temps:${new Date(watermark).toISOString().slice(0, 10).replaceAll('-', '')}`;
      const foreignId = await redis.xadd(blockedKey, `${watermark + 1}-0`, 'temp_f', '70');
      pipeline.freeze('producer', false);
      const stopped = await pipeline.expectEnd('producer');
      expect(stopped.code).toBe(1);
      expect(stopped.stderr).toContain(`${blockedKey} holds entry ${foreignId}`);
      await redis.xdel(blockedKey, foreignId!);
      pipeline.start('producer');
      expect((await pipeline.expectEnd('producer')).code).toBe(0);

      // The aggregator's partition deleted under it, the producer long past that day.
      await redis.del(frozenAt);

      // Entries on temps:averages that are not averages, then one on top of it, ahead of the next
      // hour: the aggregator must neither skip that hour nor number around it.
      const injectedAverages = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const fields of BAD_AVERAGES) {
          injectedAverages.add(await appendAfterNewest(redis, 'temps:averages', fields));
        }
      }
      const onTop = (await redis.xadd('temps:averages', '*', 'note', 'not an average'))!;
      pipeline.freeze('aggregator', false);
      const aggregator = pipeline.process('aggregator')!;
      await aggregator.waitFor(`temps:averages ends with entry ${onTop}`, 30_000);
      await eventually(async () => (await pipeline.health('aggregator')) === 503, 20_000);
      await redis.xdel('temps:averages', onTop);
      await eventually(async () => (await pipeline.health('aggregator')) === 200, 20_000);

      await recorder.waitFor(LAST_HOUR, 120_000).catch(async (error) => {
        const agg = pipeline.process('aggregator')!;
        throw new Error(
          `${error}\nstate: ${JSON.stringify(await redis.hgetall('aggregating_consumer_state'))}\n${agg.stdout.slice(-3_000)}\n${agg.stderr.slice(-3_000)}`,
        );
      });
      const deletedHours = new Set(
        Array.from({ length: 24 }, (_, h) => partitionDayStart(frozenAt)! + h * HOUR_MS),
      );
      // Every average the aggregator wrote was read (none after the last hour).
      const written = recorder.seen.filter((a) => !injectedAverages.has(a.id) && a.id !== onTop);
      await eventually(
        async () =>
          (await redis.hget('averages_consumer_state', 'last_seq')) ===
          written[written.length - 1].fields.seq,
        30_000,
      );

      // Skipped and counted, each by its reason.
      const aggregatorMetrics = await metrics(pipeline.ports.aggregator);
      for (const [reason, count] of rejected) {
        expect([
          reason,
          metricValue(
            aggregatorMetrics,
            `temps_readings_rejected_total{reason="${reason}",service="aggregator"}`,
          ),
        ]).toEqual([reason, count]);
      }
      // The deleted partition is skipped: as expired if the aggregator had read some of it, as
      // empty if it had only just moved there.
      const skipped = (reason: string) =>
        metricValue(
          aggregatorMetrics,
          `temps_partitions_skipped_total{reason="${reason}",service="aggregator"}`,
        ) ?? 0;
      expect(skipped('expired') + skipped('empty')).toBeGreaterThanOrEqual(1);
      expect(
        metricValue(
          await metrics(pipeline.ports.averages),
          'temps_averages_malformed_total{service="averages"}',
        ),
      ).toBe(injectedAverages.size + 1); // the one on top too, read before it was deleted

      // State hashes with a field missing or corrupted: each service refuses, naming the field,
      // and changes nothing; with the state repaired it carries on.
      await pipeline.stop();
      const corruptions: [
        service: 'producer' | 'aggregator' | 'averages',
        string,
        string | null,
      ][] = [
        ['aggregator', 'last_message_id', 'not-an-id'],
        ['aggregator', 'current_hourly_total', null],
        ['aggregator', 'current_stream_key', 'temps:yesterday'],
        ['averages', 'last_message_id', '12'],
        ['averages', 'last_seq', '-3'],
        ['producer', 'generator', '{"rng":'],
        ['producer', 'watermark_ms', 'soon'],
      ];
      const stateKey = {
        producer: 'producer_state',
        aggregator: 'aggregating_consumer_state',
        averages: 'averages_consumer_state',
      };
      for (const [service, field, value] of corruptions) {
        const key = stateKey[service];
        const original = (await redis.hget(key, field))!;
        if (value === null) await redis.hdel(key, field);
        else await redis.hset(key, field, value);
        const before = await snapshotRedis(redis);
        const child = pipeline.start(service);
        const result = await pipeline.expectEnd(service);
        expect([service, field, result.code]).toEqual([service, field, 1]);
        expect(child.stderr).toContain(field);
        expect(await snapshotRedis(redis)).toEqual(before);
        await redis.hset(key, field, original);
      }

      const readings = await checkPartitions(redis, RUN, {
        ignoreIds: injectedReadings,
        skipPartitions: new Set([frozenAt]),
      });
      const averages = checkAverages(recorder.seen, expectedHours(RUN), {
        ignoreIds: new Set([...injectedAverages, onTop]),
        skipHours: deletedHours,
      });
      const rows: [string, number, 'partitions' | 'temps:averages'][] = [
        ['malformed readings (8 kinds) in partitions', injectedReadings.size, 'partitions'],
        ['foreign keys under temps:, empty stream', foreignKeys, 'partitions'],
        ['foreign entry ahead of the producer', 1, 'partitions'],
        ['partition deleted under the aggregator', 1, 'temps:averages'],
        ['malformed entries in temps:averages', injectedAverages.size, 'temps:averages'],
        ['foreign entry on top of temps:averages', 1, 'temps:averages'],
        ['state hash field missing or corrupted', corruptions.length, 'temps:averages'],
      ];
      for (const [fault, injected, checkedIn] of rows) {
        const tally = checkedIn === 'partitions' ? readings : averages;
        recordRow({ fault, injected, checkedIn, ...tally });
      }

      expect(pipeline.crashes).toEqual([]);
      expect(readings).toEqual({ checked: 5 * 172_800, lost: 0, doubled: 0, wrong: 0 });
      expect(averages).toEqual({ checked: 120, lost: 0, doubled: 0, wrong: 0 });
      // The foreign keys are still there, untouched.
      expect(await redis.type('temps:20250107')).toBe('hash');
      expect(await redis.get('temps:garbage')).toBe('x');
    } finally {
      await pipeline.stop();
      await recorder.stop();
    }
  });
});
