import {
  createScratchDatabase,
  eventually,
  metricValue,
  queryRows,
  runService,
  useServiceHarness,
  type ScratchDatabase,
  type ServiceProcess,
} from '@temps/testing';
import { DAY_MS, HOUR_MS } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const DAY_2 = 'temps:20250102';
const DAY_3 = 'temps:20250103';
/** The aggregator had read hour 8 of 2025/01/02 up to 08:20 when temps:20250102 disappeared. */
const HOUR_8 = JAN_1_2025 + DAY_MS + 8 * HOUR_MS;
const CUT_MS = HOUR_8 + 20 * 60_000;
const SUFFIX = ' — partial: readings lost (partition evicted or deleted before it was read)';

type Entry = [string, string[]];
const withoutSeq = (fields: string[]) => fields.filter((_, i) => fields[i - (i % 2)] !== 'seq');

/**
 * A partial hour end to end: a partition deleted (as `maxmemory` eviction does) mid-hour while the
 * aggregator is stopped. The hour is published marked, printed with the suffix, stored with the
 * column and counted; every complete hour is exactly what an undisturbed run writes.
 */
describe('a partition lost mid-hour while the aggregator is stopped', () => {
  const harness = useServiceHarness();
  let redis: Redis;
  let database: ScratchDatabase | undefined;
  beforeAll(() => (redis = harness.redis));
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });
  const waitingAtEnd = (child: ServiceProcess, last: string) =>
    child.waitFor(`Waiting for new messages in stream ${last}, or new stream partition.`, 60_000);

  it('publishes, prints, stores and counts the open hour as partial, and nothing else', async () => {
    await runService(
      'producer',
      ['--days', '3', '--seed', '19', '--interval-ms', '60000'],
      harness.env(),
    );
    const watermark = await redis.hget('producer_state', 'watermark_ms');

    // The undisturbed run, for reference.
    const whole = await harness.start('aggregator', ['temps:20250101']);
    await waitingAtEnd(whole.child, DAY_3);
    await whole.child.kill('SIGKILL');
    const reference = new Map(
      (await redis.xrange('temps:averages', '-', '+')).map(([id, f]) => [id, withoutSeq(f)]),
    );
    expect(reference.size).toBe(72);

    // The aggregator reads up to 08:20 of the second day (the producer's watermark there), then stops.
    const day2 = (await redis.xrange(DAY_2, '-', '+')) as Entry[];
    const read = day2.filter(([id]) => Number(id.split('-')[0]) < CUT_MS);
    const inHour8 = read.filter(([id]) => Number(id.split('-')[0]) >= HOUR_8);
    expect(inHour8.length).toBeGreaterThan(0);
    await redis.rename(DAY_3, 'held:3');
    await redis.del(DAY_2);
    for (const [id, fields] of read) await redis.xadd(DAY_2, id, ...fields);
    await redis.hset('producer_state', 'watermark_ms', String(CUT_MS));
    const first = await harness.start('aggregator', ['temps:20250101']);
    await waitingAtEnd(first.child, DAY_2);
    await first.child.kill('SIGKILL');
    expect(await redis.hget('aggregating_consumer_state', 'current_hour')).toBe(String(HOUR_8));

    // While it is stopped its partition disappears; the producer has written the third day.
    await redis.del(DAY_2);
    await redis.rename('held:3', DAY_3);
    await redis.hset('producer_state', 'watermark_ms', watermark!);

    database = await createScratchDatabase('temps_partial');
    const aggregator = await harness.start('aggregator', []);
    const averages = await harness.start('averages', [], { WAREHOUSE_URL: database.url });
    await waitingAtEnd(aggregator.child, DAY_3);

    // temps:averages: day 1, day 2 until 07:00, the partial hour 8, day 3; hours 9–23 missing.
    const written = await redis.xrange('temps:averages', '-', '+');
    expect(written).toHaveLength(24 + 8 + 1 + 24);
    const partial = written.filter(([, f]) => f.includes('partial'));
    expect(partial.map(([id]) => id)).toEqual([`${HOUR_8}-0`]);
    for (const [id, fields] of written) {
      if (id === `${HOUR_8}-0`) continue;
      // A complete hour: exactly the fields an undisturbed run writes, bit for bit, and no mark.
      expect({ id, fields: withoutSeq(fields) }).toEqual({ id, fields: reference.get(id) });
    }
    const [, marked] = partial[0];
    const total = inHour8.reduce((sum, [, f]) => sum + Number(f[f.indexOf('temp_f') + 1]), 0);
    expect(withoutSeq(marked)).toEqual([
      'hour',
      '8',
      'date',
      '2025/01/02',
      'average_temp_f',
      String(Math.trunc(total / inHour8.length)),
      'num_observations',
      String(inHour8.length),
      'mean_temp_f',
      (total / inHour8.length).toFixed(4),
      'min_temp_f',
      expect.any(String),
      'max_temp_f',
      expect.any(String),
      'partial',
      'evicted',
    ]);
    expect(Number(marked[marked.indexOf('num_observations') + 1])).toBeLessThan(
      Number(
        reference.get(`${HOUR_8}-0`)![
          reference.get(`${HOUR_8}-0`)!.indexOf('num_observations') + 1
        ],
      ),
    );

    // The console: the partial hour with the suffix, every other line the seed's own.
    const line = `Average temperature for 2025/01/02 at 8 was ${Math.trunc(total / inHour8.length)}F (${inHour8.length} observations).`;
    await averages.child.waitFor('Average temperature for 2025/01/03 at 23 was');
    const printed = averages.child.stdout
      .split('\n')
      .filter((l) => l.includes('Average temperature'));
    expect(printed).toHaveLength(57);
    expect(printed.filter((l) => l.includes('partial'))).toEqual([
      expect.stringContaining(line + SUFFIX),
    ]);

    // The warehouse: one row marked, the others NULL.
    const rows = await eventually(async () => {
      const found = await queryRows<{ hour_start: Date; partial: string | null }>(
        database!.url,
        'SELECT hour_start, partial FROM hourly_averages ORDER BY hour_start',
      );
      if (found.length < 57) throw new Error(`${found.length} rows so far`);
      return found;
    });
    expect(rows.filter((r) => r.partial !== null)).toEqual([
      { hour_start: new Date(HOUR_8), partial: 'evicted' },
    ]);

    // Counted by reason, every reason a series from 0.
    const text = await (await fetch(`${aggregator.base}/metrics`)).text();
    const count = (reason: string) =>
      metricValue(text, `temps_partial_hours_total{reason="${reason}",service="aggregator"}`);
    expect([count('evicted'), count('expired')]).toEqual([1, 0]);
    expect(aggregator.child.stdout + aggregator.child.stderr).toContain(
      'Published 2025/01/02 hour 8 as partial',
    );
  });

  it('warns once at start-up when maxmemory-policy can evict the state', async () => {
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const warning =
        /maxmemory-policy is allkeys-lru: once Redis is full it may evict the services' state/;
      const { child } = await harness.start('aggregator', ['--from-oldest']);
      await child.waitFor(warning);
      await redis.config('SET', 'maxmemory-policy', 'volatile-ttl');
      const quiet = await harness.start('averages', []);
      await quiet.child.waitFor('Serving /health');
      expect(child.stdout.match(new RegExp(warning, 'g'))).toHaveLength(1);
      expect(quiet.child.stdout + quiet.child.stderr).not.toMatch(/maxmemory-policy/);
    } finally {
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });
});
