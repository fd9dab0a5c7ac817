import type { StreamEntry } from '@temps/redis';
import { ConsoleOutput } from '@temps/runtime';
import { AVERAGES_STREAM } from '@temps/streams';
import { usePrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { AveragesMetrics } from '../src/averages.metrics';
import { AveragesRepository } from '../src/averages.repository';
import { AveragesService } from '../src/averages.service';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const HOUR_MS = 3_600_000;
const MAYBE_TRIMMED = `Hourly averages after message ${JAN_1_2025 + 9 * HOUR_MS}-0 may have been trimmed from temps:averages (MAXLEN) before they were read; it no longer holds that message, so how many is not known.`;

class Lines extends ConsoleOutput {
  readonly lines: string[] = [];
  override line(text: string): void {
    this.lines.push(text);
  }
}

/**
 * The reader resuming from `averages_consumer_state` as the exercise's own consumer leaves it
 * (`last_message_id` only), against a real Redis: it reads on after that ID, as the exercise does,
 * and reports missed averages only when it can prove them.
 */
describe("averages reader: resuming from the exercise's own state", () => {
  const fixture = usePrivateRedis();
  let redis: Redis;
  beforeAll(() => (redis = fixture.redis));

  /** Hour `n` (1-based) of 2025-01-01 onwards, as this project's aggregator writes it. */
  const idOf = (n: number) => `${JAN_1_2025 + (n - 1) * HOUR_MS}-0`;
  async function averages(count: number, withSeq = true) {
    for (let n = 1; n <= count; n++) {
      const hour = (n - 1) % 24;
      await redis.xadd(
        AVERAGES_STREAM,
        idOf(n),
        'hour',
        String(hour),
        'date',
        `2025/01/${String(1 + Math.floor((n - 1) / 24)).padStart(2, '0')}`,
        'average_temp_f',
        '50',
        'num_observations',
        '3600',
        ...(withSeq ? ['seq', String(n)] : []),
      );
    }
  }
  /** The reader, started on the saved state, reading as the transport does until nothing is left. */
  async function resume() {
    const output = new Lines();
    const registry = new Registry();
    const metrics = new AveragesMetrics(registry);
    const repository = new AveragesRepository(fixture.server.client());
    const reader = new AveragesService({ color: false } as never, repository, metrics, output);
    await reader.start();
    for (let turn = 0; turn < 100; turn++) {
      const [[stream, after]] = reader.cursor();
      const reply = await redis.xreadBuffer('COUNT', 10, 'STREAMS', stream, after);
      const entries = (reply?.[0]?.[1] ?? []).map(([id, fields]): StreamEntry => [
        id.toString(),
        fields,
      ]);
      await reader.handle({ reads: [{ stream, entries }] });
      if (entries.length === 0) break;
    }
    const missed = (await registry.getSingleMetric('temps_averages_missed_total')!.get()).values;
    return {
      lines: output.lines,
      averages: output.lines.filter((l) => l.startsWith('Average')),
      missedTotal: missed[0]?.value ?? 0,
    };
  }
  const exerciseState = (lastId: string) =>
    redis.hset('averages_consumer_state', 'last_message_id', lastId);

  it('only last_message_id at the 10th of 48, nothing trimmed: reads the 38 after it, misses none', async () => {
    await averages(48);
    await exerciseState(idOf(10));
    const { lines, averages: read, missedTotal } = await resume();
    expect(lines[0]).toBe(
      `Starting averages consumer in stream temps:averages at message ${idOf(10)}.`,
    );
    expect(read).toHaveLength(38);
    expect(read[0]).toBe('Average temperature for 2025/01/01 at 10 was 50F (3600 observations).');
    expect(lines.join('\n')).not.toMatch(/Missed/);
    expect(missedTotal).toBe(0);
    expect(await redis.hgetall('averages_consumer_state')).toMatchObject({
      last_message_id: idOf(48),
      last_seq: '48',
    });
  });

  it('only last_message_id at an entry deleted since, nothing after it removed: misses none', async () => {
    await averages(48);
    await redis.xdel(AVERAGES_STREAM, idOf(10));
    await exerciseState(idOf(10));
    const { lines, averages: read, missedTotal } = await resume();
    expect(read).toHaveLength(38);
    expect(lines.join('\n')).not.toMatch(/Missed/);
    expect(missedTotal).toBe(0);
  });

  it('only last_message_id at an entry trimmed since: says some may have been trimmed, claims no count', async () => {
    await averages(48);
    await redis.xtrim(AVERAGES_STREAM, 'MAXLEN', 30); // 1 … 18 trimmed; 11 … 18 never read
    await exerciseState(idOf(10));
    const { lines, averages: read, missedTotal } = await resume();
    expect(read).toHaveLength(30);
    expect(lines).toContain(MAYBE_TRIMMED);
    expect(lines.join('\n')).not.toMatch(/Missed/);
    expect(missedTotal).toBe(0);
    expect(await redis.hget('averages_consumer_state', 'last_seq')).toBe('48');
  });

  it("the exercise's own averages (no seq), one after the saved ID deleted: says some were missed", async () => {
    await averages(48, false);
    await redis.xdel(AVERAGES_STREAM, idOf(10), idOf(12));
    await exerciseState(idOf(10));
    const { lines, averages: read } = await resume();
    expect(read).toHaveLength(37);
    expect(lines.filter((l) => /Missed|trimmed/.test(l))).toEqual([
      `Missed hourly averages after message ${idOf(10)} (how many is not known): deleted from temps:averages before they were read.`,
    ]);
    // Nothing known of seqs: none is saved.
    expect(await redis.hexists('averages_consumer_state', 'last_seq')).toBe(0);
  });

  it('only last_message_id of a stream recreated since (nothing provably removed): misses none', async () => {
    // Recreated from hour 21 on: its XINFO knows nothing of what the old stream held.
    for (let n = 21; n <= 48; n++) {
      await redis.xadd(
        AVERAGES_STREAM,
        idOf(n),
        'hour',
        String((n - 1) % 24),
        'date',
        '2025/01/02',
        'average_temp_f',
        '50',
        'num_observations',
        '3600',
        'seq',
        String(n),
      );
    }
    await exerciseState(idOf(10));
    const { lines, averages: read, missedTotal } = await resume();
    expect(read).toHaveLength(28);
    expect(lines.join('\n')).not.toMatch(/Missed/);
    expect(missedTotal).toBe(0);
  });
});
