/**
 * `npm run bench:producer`: the default 10-day run (864,000 readings) against a private Redis,
 * compared with redis-benchmark's pipelined XADD on the same server in the same run.
 * The producer's rate is taken over its write phase (from "Deleting old streams:" to exit);
 * the whole process, Node and Nest start-up included, is printed too.
 *
 * Then lanes (--shards 4, 4 devices, --speed max): the default layout against 1 producer with lanes
 * on the same readings (target ≥ 0.9×, every entry counted), and 1, 2 and 4 producer processes
 * sharing the lanes (total readings/s ÷ redis-benchmark's XADD of the round). A lanes rate runs from
 * the first producer's "Producer … in run" line to the moment every lane's watermark is at the end
 * (polled): a producer whose lanes are done waits for its next lease call to see the others' end,
 * which is not writing. Last, bytes per reading (MEMORY USAGE) with the compose file's stream node
 * settings: `device-N` names (default layout) against lanes' numeric `device_id`.
 *
 * BENCH_SMOKE=1: one round of one day that checks every path and asserts no ratio.
 */
import { ServiceProcess, startPrivateRedis, type PrivateRedis } from '@temps/testing';
import { LaneStateHash, ProducerStateHash, laneLayout, type Lane } from '@temps/streams';
import type { Redis } from 'ioredis';
import { xaddReference } from './xadd-reference';

const SMOKE = process.env.BENCH_SMOKE === '1';
const DAYS = SMOKE ? 1 : 10;
const READINGS = DAYS * 86_400;
const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);

/** The lanes runs: 4 lanes of one device each, long enough for the lease rebalancing to amortise. */
const SHARDS = 4;
const LANE_DEVICES = 4;
const LANE_DAYS = SMOKE ? 1 : 12;
const LANE_READINGS = LANE_DAYS * 86_400 * LANE_DEVICES;
const LANE_RUN = ['--seed', '1', '--days', String(LANE_DAYS), '--devices', String(LANE_DEVICES)];
/** Renewals every 333 ms, so producers joining a run share it within a second of starting. */
const LANE_LEASE = ['--lease-ms', '1000'];
const END_MS = Date.UTC(2025, 0, 1) + LANE_DAYS * 86_400_000;

async function main(): Promise<void> {
  const server = await startPrivateRedis();
  const redis = server.client();
  const results: { reference: number; producer: number; whole: number }[] = [];
  const lanes: Record<string, number[]> = {};
  const record = (name: string, rate: number) => (lanes[name] ??= []).push(rate);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await redis.flushall();
      const reference = xaddReference(server.port, READINGS);
      await redis.flushall();

      const started = performance.now();
      const producer = new ServiceProcess('producer', ['--seed', '1', '--days', String(DAYS)], {
        REDIS_URL: server.url,
      });
      await producer.waitFor('Deleting old streams:', 60_000);
      const writing = performance.now();
      const finished = await producer.exited;
      const ended = performance.now();
      if (finished.code !== 0) throw new Error(`producer failed: ${finished.stderr}`);
      await expectStored(redis, READINGS);

      const producerRate = READINGS / ((ended - writing) / 1000);
      const whole = READINGS / ((ended - started) / 1000);
      results.push({ reference, producer: producerRate, whole });
      console.log(
        `round ${round}: redis-benchmark XADD ${fmt(reference)}/s | producer ${fmt(producerRate)}/s ` +
          `(whole process ${fmt(whole)}/s) | ratio ${(producerRate / reference).toFixed(2)}`,
      );

      // Lanes: the same XADD reference for this input, then each layout and producer count.
      await redis.flushall();
      const laneReference = xaddReference(server.port, LANE_READINGS);
      record('redis-benchmark XADD', laneReference);
      record('default layout, 1 producer', await defaultRun(server, redis));
      for (const producers of [1, 2, 4]) {
        record(
          `lanes, ${producers} producer${producers > 1 ? 's' : ''}`,
          await lanesRun(server, redis, producers),
        );
      }
      console.log(
        `round ${round} (${fmt(LANE_READINGS)} readings, ${LANE_DEVICES} devices): ` +
          Object.entries(lanes)
            .map(([name, rates]) => `${name} ${fmt(rates[rates.length - 1])}/s`)
            .join(' | '),
      );
    }
  } finally {
    await server.stop();
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const pick = (f: (r: (typeof results)[number]) => number) => median(results.map(f));
  const ratio = pick((r) => r.producer / r.reference);
  console.log(
    `median: redis-benchmark ${fmt(pick((r) => r.reference))}/s, producer ${fmt(pick((r) => r.producer))}/s, ` +
      `whole process ${fmt(pick((r) => r.whole))}/s, ratio ${ratio.toFixed(2)} ` +
      (SMOKE ? '(smoke run: no target)' : '(target >= 0.50)'),
  );

  // Ratios per round (each against its own round's reference), then the median of each.
  const rounds = lanes['redis-benchmark XADD'].length;
  const perRound = (name: string) =>
    Array.from({ length: rounds }, (_, i) => lanes[name][i] / lanes['redis-benchmark XADD'][i]);
  console.log(
    `\nlanes (--shards ${SHARDS}, ${LANE_DEVICES} devices, --speed max, ${fmt(LANE_READINGS)} readings, median of ${rounds}):`,
  );
  console.log('| run | readings/s | ÷ redis-benchmark XADD | ÷ default layout |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const name of Object.keys(lanes)) {
    const vsDefault = Array.from(
      { length: rounds },
      (_, i) => lanes[name][i] / lanes['default layout, 1 producer'][i],
    );
    console.log(
      `| ${name} | ${fmt(median(lanes[name]))} | ${median(perRound(name)).toFixed(2)} | ${median(vsDefault).toFixed(2)} |`,
    );
  }
  const lanesVsDefault = median(
    Array.from(
      { length: rounds },
      (_, i) => lanes['lanes, 1 producer'][i] / lanes['default layout, 1 producer'][i],
    ),
  );

  const bytes = await bytesPerReading();
  console.log(
    `\nbytes per reading (MEMORY USAGE, stream-node-max-entries 1000, stream-node-max-bytes 0, ${LANE_DEVICES} devices): ` +
      Object.entries(bytes)
        .map(([name, value]) => `${name} ${value.toFixed(1)}`)
        .join(' | '),
  );
  console.log(
    `lanes ÷ default layout, 1 producer: ${lanesVsDefault.toFixed(2)} ` +
      (SMOKE ? '(smoke run: no target)' : '(target >= 0.90)'),
  );
  process.exitCode = SMOKE || (ratio >= 0.5 && lanesVsDefault >= 0.9) ? 0 : 1;
}

/** Every entry of every partition (both layouts), counted inside Redis. */
async function expectStored(redis: Redis, readings: number): Promise<void> {
  const stored = await redis.eval(
    "local n=0 for _,k in ipairs(redis.call('KEYS','temps:2*')) do n=n+redis.call('XLEN',k) end return n",
    0,
  );
  if (stored !== readings) throw new Error(`expected ${readings} readings, found ${stored}`);
}

/** Polls until `done()` (every 5 ms); resolves to the moment it was. */
async function until(done: () => Promise<boolean>): Promise<number> {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 5));
  return performance.now();
}

async function defaultRun(server: PrivateRedis, redis: Redis): Promise<number> {
  await redis.flushall();
  const producer = new ServiceProcess('producer', LANE_RUN, { REDIS_URL: server.url });
  await producer.waitFor('Deleting old streams:', 60_000);
  const from = performance.now();
  const to = await until(
    async () => Number(await redis.hget(ProducerStateHash.KEY, 'watermark_ms')) >= END_MS,
  );
  const finished = await producer.exited;
  if (finished.code !== 0) throw new Error(`producer failed: ${finished.stderr}`);
  await expectStored(redis, LANE_READINGS);
  return LANE_READINGS / ((to - from) / 1000);
}

/** `producers` processes started at once with --resume on an empty Redis, sharing the lanes. */
async function lanesRun(server: PrivateRedis, redis: Redis, producers: number): Promise<number> {
  await redis.flushall();
  const layout: Lane[] = laneLayout(SHARDS, LANE_DEVICES);
  const args = [...LANE_RUN, '--shards', String(SHARDS), ...LANE_LEASE, '--resume'];
  const all = Array.from(
    { length: producers },
    () => new ServiceProcess('producer', args, { REDIS_URL: server.url }),
  );
  await Promise.race(all.map((p) => p.waitFor(/Producer \S+ in run/, 60_000)));
  const from = performance.now();
  const to = await until(async () => {
    const marks = await Promise.all(
      layout.map((lane) => redis.hget(LaneStateHash.keyOf(lane.tag), 'watermark_ms')),
    );
    return marks.every((ms) => Number(ms) >= END_MS);
  });
  for (const p of all) {
    const finished = await p.exited;
    if (finished.code !== 0) throw new Error(`producer failed: ${finished.stderr}`);
  }
  await expectStored(redis, LANE_READINGS);
  return LANE_READINGS / ((to - from) / 1000);
}

/** MEMORY USAGE per reading with the compose file's stream node settings, one day of 4 devices. */
async function bytesPerReading(): Promise<Record<string, number>> {
  const server = await startPrivateRedis({
    args: ['--stream-node-max-entries', '1000', '--stream-node-max-bytes', '0'],
  });
  const redis = server.client();
  const readings = 86_400 * LANE_DEVICES;
  const runs: Record<string, string[]> = {
    'default layout (device_id "device-N")': [],
    'lanes --shards 1 (device_id "N")': ['--shards', '1'],
    [`lanes --shards ${SHARDS} (device_id "N", one device a lane)`]: ['--shards', String(SHARDS)],
  };
  const bytes: Record<string, number> = {};
  try {
    for (const [name, extra] of Object.entries(runs)) {
      await redis.flushall();
      const args = ['--seed', '1', '--days', '1', '--devices', String(LANE_DEVICES), ...extra];
      const finished = await new ServiceProcess('producer', args, { REDIS_URL: server.url }).exited;
      if (finished.code !== 0) throw new Error(`producer failed: ${finished.stderr}`);
      const used = (await redis.eval(
        "local n=0 for _,k in ipairs(redis.call('KEYS','temps:2*')) do n=n+redis.call('MEMORY','USAGE',k,'SAMPLES',0) end return n",
        0,
      )) as number;
      bytes[name] = used / readings;
    }
  } finally {
    await server.stop();
  }
  return bytes;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
