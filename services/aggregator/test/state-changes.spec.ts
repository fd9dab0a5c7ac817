import {
  ServiceProcess,
  actualAverages,
  eventually,
  expectedAverages,
  runService,
  useServiceHarness,
} from '@temps/testing';
import { DAY_MS, partitionKeysBetween } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const days = (n: number, from = JAN_1_2025) => partitionKeysBetween(from, from + n * DAY_MS);
const without = <T extends { seq: number }>(averages: T[]) =>
  averages.map(({ seq: _seq, ...rest }) => rest);
const count = (text: string, pattern: RegExp) =>
  text.split('\n').filter((l) => pattern.test(l)).length;

describe('aggregator: state that vanishes or is replaced while it runs', () => {
  const harness = useServiceHarness();
  let redis: Redis;
  beforeAll(() => (redis = harness.redis));
  const env = () => harness.env();
  const produce = (...args: string[]) => runService('producer', args, env());
  const aggregate = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    harness.start('aggregator', args, extra);
  const log = (child: ServiceProcess) => child.stdout + child.stderr;

  it('Redis emptied under it (--from-oldest): one line, then it begins again from what Redis holds', async () => {
    await produce('--days', '2', '--seed', '3');
    const { child, base } = await aggregate([], { AGGREGATOR_FROM_OLDEST: 'true' });
    await child.waitFor('Waiting for new messages in stream temps:20250102', 60_000);
    await redis.flushall();
    await child.waitFor(
      'aggregating_consumer_state disappeared from Redis while the aggregator ran (deleted, or evicted under an allkeys-* maxmemory-policy); starting again from the oldest partition.',
    );
    await produce('--days', '1', '--seed', '4', '--start', '2025-05-01');
    await child.waitFor('Starting aggregating consumer in stream temps:20250501 at message 0.');
    await child.waitFor('Waiting for new messages in stream temps:20250501', 60_000);
    const expected = await expectedAverages(redis, days(1, Date.UTC(2025, 4, 1)));
    expect(expected).toHaveLength(24);
    expect(without(await actualAverages(redis))).toEqual(expected);
    expect(log(child)).not.toMatch(/undefined|has not started|STALE/);
    expect(count(log(child), /disappeared from Redis/)).toBe(1);
    await eventually(async () => (await fetch(`${base}/health`)).status === 200);
  });

  it('its state deleted (no rule to begin again by): one line and exit 1, nothing written', async () => {
    await produce('--days', '1', '--seed', '3');
    const { child } = await aggregate(['temps:20250101']);
    await child.waitFor('Waiting for new messages in stream temps:20250101', 60_000);
    await redis.del('aggregating_consumer_state');
    const finished = await child.exited;
    expect(finished.code).toBe(1);
    expect(finished.stderr.trim()).toBe(
      'aggregator: aggregating_consumer_state disappeared from Redis while the aggregator ran (deleted, or evicted under an allkeys-* maxmemory-policy); start it again with a partition name (or --from-oldest) to begin again.',
    );
    expect(await redis.exists('aggregating_consumer_state')).toBe(0);
  });

  it('started over by another aggregator: says so once and waits; the other one ends exact', async () => {
    await produce('--days', '1', '--seed', '5');
    const { child: first } = await aggregate(['temps:20250101']);
    await first.waitFor('Waiting for new messages in stream temps:20250101', 60_000);
    const { child: second } = await aggregate(['temps:20250101']);
    await second.waitFor('Waiting for new messages in stream temps:20250101', 60_000);
    await first.waitFor('Another aggregator is writing aggregating_consumer_state');
    expect(without(await actualAverages(redis))).toEqual(await expectedAverages(redis, days(1)));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(count(log(first), /Another aggregator/)).toBe(1);
    expect(log(first)).not.toMatch(/Continuing from the saved state|STALE/);
    expect(first.exitCode).toBeNull();
  });

  it('two started against the same state by mistake: exact, and the one that loses says so once', async () => {
    await produce('--days', '3', '--seed', '6');
    const { child: a } = await aggregate(['temps:20250101']);
    await a.waitFor('Starting aggregating consumer');
    const { child: b } = await aggregate([]);
    await eventually(async () => (await actualAverages(redis)).length === 72, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(without(await actualAverages(redis))).toEqual(await expectedAverages(redis, days(3)));
    const warnings = count(log(a) + log(b), /Another aggregator/);
    expect(warnings).toBeLessThanOrEqual(2);
    expect(log(a) + log(b)).not.toMatch(
      /Continuing from the saved state|STALE|Reading or handling failed/,
    );
  });
});
