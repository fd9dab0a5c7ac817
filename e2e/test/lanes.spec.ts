import {
  ServiceProcess,
  actualAverages,
  eventually,
  expectedAverages,
  freePort,
  startPrivateRedis,
  type PrivateRedis,
} from '@temps/testing';
import { DAY_MS, laneLayout, partitionKeysBetween } from '@temps/streams';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const SHARDS = 6;
// Two simulated days in about 30 s of real time, so producers die and start while it runs.
const ARGS = ['--start', '2025-01-01', '--days', '2', '--devices', '10', '--seed', '4242'];
const PACED = [...ARGS, '--speed', '6000', '--resume'];
const ENV = { PRODUCER_SHARDS: String(SHARDS), PRODUCER_LEASE_MS: '1500' };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
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
      const child = start('producer', PACED, env);
      producers.push(child);
      return child;
    };
    const alive = () => producers.filter((p) => p.exitCode === null);
    const killRandom = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const victims = alive();
        await victims[Math.floor(Math.random() * victims.length)].kill('SIGKILL');
      }
    };

    // The reference: one uninterrupted producer, same seed and lanes, on its own Redis.
    const single = start('producer', [...ARGS, '--speed', 'max'], {
      REDIS_URL: reference.url,
      ...ENV,
    });

    start('aggregator', ['--from-oldest'], { ...env, PORT: String(await freePort()) });
    const reader = start('averages', [], { ...env, PORT: String(await freePort()) });
    for (let i = 0; i < 3; i++) produce();

    await pause(4_000 + Math.random() * 3_000);
    await killRandom(1); // 3 → 2
    await pause(3_000 + Math.random() * 3_000);
    produce();
    produce(); // → 4
    await pause(3_000 + Math.random() * 3_000);
    await killRandom(3); // → 1
    expect(alive()).toHaveLength(1);

    // The last one takes every lane and completes the run.
    const [last] = alive();
    expect((await last.exited).code).toBe(0);
    expect((await single.exited).code).toBe(0);

    const redis = shared.client();
    const ref = reference.client();
    await eventually(async () => (await redis.xlen('temps:averages')) === 48, 60_000);

    // Every lane byte-identical to the single producer's.
    for (const key of lanePartitions) {
      expect({ key, entries: await redis.xrange(key, '-', '+') }).toEqual({
        key,
        entries: await ref.xrange(key, '-', '+'),
      });
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
