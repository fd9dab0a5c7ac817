import {
  ServiceProcess,
  actualAverages,
  eventually,
  expectedAverages,
  freePort,
  startPrivateRedis,
  type PrivateRedis,
} from '@temps/testing';
import { DAY_MS, partitionKeysBetween } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const PARTITIONS = partitionKeysBetween(JAN_1_2025, JAN_1_2025 + 10 * DAY_MS);
const LINE = /Average temperature for (\S+) at (\d+) was (\d+)F \((\d+) observations\)\./g;
const MISSED = /Missed (\d+) hourly averages?/g;

describe('consumers killed with SIGKILL at random moments during a 10-day run', () => {
  let server: PrivateRedis;
  let redis: Redis;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await server.stop();
  });

  it('leaves every hour in temps:averages exactly once with the exact value', async () => {
    const env = { REDIS_URL: server.url };
    const spawn = async (service: string, args: string[]) => {
      const child = new ServiceProcess(service, args, { ...env, PORT: String(await freePort()) });
      processes.push(child);
      return child;
    };
    // A live producer writing 10 days of 2 devices as fast as it can (at a paced high speed the
    // partitions would expire within seconds, as they should, and take the test's data with them).
    const producer = await spawn('producer', ['--seed', '21', '--devices', '2']);
    await eventually(() => redis.exists('temps:20250101'));

    const lastSeq = async () =>
      Number((await redis.hget('averages_consumer_state', 'last_seq')) ?? 0);
    const printed: string[] = [];
    let missed = 0;
    let kills = 0;
    for (let round = 0; round < 20 && (await lastSeq()) < 240; round++) {
      const fresh = !(await redis.exists('aggregating_consumer_state'));
      const aggregator = await spawn('aggregator', fresh ? ['temps:20250101'] : []);
      let reader: ServiceProcess | null = null;
      if (!fresh) reader = await spawn('averages', []);
      await new Promise((resolve) => setTimeout(resolve, 400 + Math.random() * 1_600));
      // Kill in either order, sometimes only one of them.
      const victims = [aggregator, reader].filter((p): p is ServiceProcess => p !== null);
      if (Math.random() < 0.5) victims.reverse();
      for (const victim of victims.slice(0, Math.random() < 0.25 ? 1 : 2)) {
        await victim.kill('SIGKILL');
        kills++;
      }
      for (const victim of victims) {
        if (victim.pid) await victim.kill('SIGKILL');
        if (victim === reader) {
          printed.push(...[...victim.stdout.matchAll(LINE)].map((m) => m.slice(1).join(' ')));
          missed += [...victim.stdout.matchAll(MISSED)].reduce((n, m) => n + Number(m[1]), 0);
        }
      }
    }
    expect((await producer.exited).code).toBe(0);

    // Let both finish undisturbed.
    const aggregator = await spawn('aggregator', []);
    const reader = await spawn('averages', []);
    await eventually(async () => (await lastSeq()) === 240, 60_000).catch(async (error) => {
      throw new Error(
        `${error}\nstate: ${JSON.stringify(await redis.hgetall('aggregating_consumer_state'))} ${JSON.stringify(await redis.hgetall('averages_consumer_state'))}\nagg: ${aggregator.stdout}${aggregator.stderr}\navg: ${reader.stdout.slice(-2000)}${reader.stderr}`,
      );
    });
    printed.push(...[...reader.stdout.matchAll(LINE)].map((m) => m.slice(1).join(' ')));
    missed += [...reader.stdout.matchAll(MISSED)].reduce((n, m) => n + Number(m[1]), 0);
    await Promise.all([aggregator.kill('SIGTERM'), reader.kill('SIGTERM')]);

    const expected = await expectedAverages(redis, PARTITIONS);
    expect(expected).toHaveLength(240);
    const actual = await actualAverages(redis);
    // The cap keeps the last 120; `seq` numbers every average ever added: 240 in all means none doubled.
    expect(actual.map(({ seq: _seq, ...rest }) => rest)).toEqual(expected.slice(120));
    expect(actual.map((a) => a.seq)).toEqual(expected.slice(120).map((_, i) => 121 + i));
    expect(kills).toBeGreaterThan(5);

    // The reader printed only exact values, and every hour it did not print it reported as missed.
    const valid = new Set(
      expected.map((e) => `${e.date} ${e.hour} ${e.average} ${e.observations}`),
    );
    expect(printed.filter((line) => !valid.has(line))).toEqual([]);
    expect(new Set(printed).size + missed).toBeGreaterThanOrEqual(240);
  });
});
