import {
  ServiceProcess,
  actualAverages,
  eventually,
  expectedAverages,
  freePort,
  startPrivateRedis,
  streamDigest,
  type PrivateRedis,
} from '@temps/testing';
import { DAY_MS, LaneStateHash, laneLayout, partitionKeysBetween } from '@temps/streams';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const SHARDS = 6;
const ARGS = ['--start', '2025-01-01', '--days', '2', '--devices', '10', '--seed', '4242'];
// At full speed (partitions then live for days of real time); producers die and start as the run
// passes random points, and each death costs the lease before its lanes move on.
const JOINING = [...ARGS, '--resume'];
const ENV = { PRODUCER_SHARDS: String(SHARDS), PRODUCER_LEASE_MS: '1500' };

const lanePartitions = laneLayout(SHARDS, 10).flatMap((lane) =>
  partitionKeysBetween(JAN_1_2025, JAN_1_2025 + 2 * DAY_MS, lane.tag),
);

describe('many producers over lanes, end to end', () => {
  let shared: PrivateRedis;
  let reference: PrivateRedis;
  const running = new Set<ServiceProcess>();
  const start = (service: string, args: string[], env: NodeJS.ProcessEnv) => {
    const child = new ServiceProcess(service, args, env);
    running.add(child);
    void child.exited.then(() => running.delete(child));
    return child;
  };

  beforeAll(async () => {
    [shared, reference] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
  });
  afterAll(async () => {
    await Promise.all([...running].map((child) => child.kill('SIGKILL')));
    await Promise.all([shared.stop(), reference.stop()]);
  });

  it('3 → 2 → 4 → 1 producers killed and started at random: every lane as one producer writes it, every hour once over all lanes', async () => {
    const env = { REDIS_URL: shared.url, ...ENV };
    const producers: ServiceProcess[] = [];
    const produce = () => {
      const child = start('producer', JOINING, env);
      producers.push(child);
      return child;
    };
    const alive = () => producers.filter((p) => p.running);
    const killRandom = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const victims = alive();
        await victims[Math.floor(Math.random() * victims.length)].kill('SIGKILL');
      }
    };

    // The reference: one uninterrupted producer, same seed and lanes, on its own Redis.
    const single = start('producer', ARGS, {
      REDIS_URL: reference.url,
      ...ENV,
    });

    start('aggregator', ['--from-oldest'], { ...env, PORT: String(await freePort()) });
    const reader = start('averages', [], { ...env, PORT: String(await freePort()) });
    for (let i = 0; i < 3; i++) produce();

    // The run's watermark (the least over the lanes) reaching a random point of each third.
    const redis = shared.client();
    const watermark = async () => {
      const tags = laneLayout(SHARDS, 10).map((lane) => lane.tag);
      const marks = await Promise.all(
        tags.map((tag) => redis.hget(LaneStateHash.keyOf(tag), 'watermark_ms')),
      );
      return Math.min(...marks.map((m) => Number(m ?? 0)));
    };
    const passes = (third: number) =>
      eventually(
        async () => (await watermark()) >= JAN_1_2025 + ((third + Math.random()) * 2 * DAY_MS) / 4,
        60_000,
        20,
      );
    await passes(0);
    await killRandom(1); // 3 → 2
    await passes(1);
    produce();
    produce(); // → 4
    await passes(2);
    await killRandom(3); // → 1
    expect(alive()).toHaveLength(1);

    // The last one takes every lane and completes the run.
    const [last] = alive();
    expect((await last.exited).code).toBe(0);
    expect((await single.exited).code).toBe(0);

    const ref = reference.client();
    await eventually(async () => (await redis.xlen('temps:averages')) === 48, 60_000);

    // Every lane byte-identical to the single producer's: the same DUMP (entries, IDs, node
    // layout, last ID, entries added), or, when not, the digest of its entries for the message.
    for (const key of lanePartitions) {
      expect(await redis.xlen(key)).toBe(
        key.includes(':{0.') || key.includes(':{3.') ? 86_400 : 172_800,
      );
      const [mine, theirs] = await Promise.all([redis.dumpBuffer(key), ref.dumpBuffer(key)]);
      if (!mine || !theirs || !mine.equals(theirs)) {
        expect({ key, digest: await streamDigest(redis, key) }).toEqual({
          key,
          digest: await streamDigest(ref, key),
        });
        expect({ key, dump: 'differs' }).toEqual({ key, dump: 'equal' });
      }
    }
    // Every hour once, over all lanes, equal to an average recomputed from the raw lanes.
    const expected = await expectedAverages(redis, lanePartitions);
    expect(expected).toHaveLength(48);
    const actual = await actualAverages(redis);
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected);
    expect(new Set(actual.map((a) => a.observations))).toEqual(new Set(['36000']));
    // The reader printed each of them.
    await eventually(
      async () =>
        (await redis.hget('averages_consumer_state{temps:averages}', 'last_seq')) === '48',
      30_000,
    );
    expect(reader.stdout.match(/Average temperature for/g)).toHaveLength(48);
    redis.disconnect();
    ref.disconnect();
  });
});
