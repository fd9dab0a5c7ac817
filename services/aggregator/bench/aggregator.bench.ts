/**
 * `npm run bench:aggregator`: aggregating the 864,000 readings of the default run, compared with
 * reading them raw (`redis-cli` XRANGE over all partitions) on the same server in the same run.
 * The aggregator is timed from its "Starting aggregating consumer" line until the last hourly
 * average (2025-01-10, hour 23) is in temps:averages.
 * BENCH_SMOKE=1: one round over one day (86,400 readings) that checks the path and asserts no ratio.
 */
import { execFileSync } from 'node:child_process';
import { DAY_MS, partitionKeysBetween } from '@temps/streams';
import { ServiceProcess, freePort, runService, startPrivateRedis } from '@temps/testing';

const SMOKE = process.env.BENCH_SMOKE === '1';
const DAYS = SMOKE ? 1 : 10;
const READINGS = DAYS * 86_400;
const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);
const JAN_1_2025 = Date.UTC(2025, 0, 1);
const PARTITIONS = partitionKeysBetween(JAN_1_2025, JAN_1_2025 + DAYS * DAY_MS);
const LAST_AVERAGE = `${JAN_1_2025 + DAYS * DAY_MS - 3_600_000}-0`;

async function main(): Promise<void> {
  const server = await startPrivateRedis();
  const redis = server.client();
  const results: { reference: number; aggregator: number }[] = [];
  try {
    const produced = await runService('producer', ['--seed', '1', '--days', String(DAYS)], {
      REDIS_URL: server.url,
    });
    if (produced.code !== 0) throw new Error(`producer failed: ${produced.stderr}`);

    for (let round = 1; round <= ROUNDS; round++) {
      const commands = PARTITIONS.map((key) => `XRANGE ${key} - +`).join('\n');
      const raw = performance.now();
      execFileSync('redis-cli', ['-p', String(server.port)], {
        input: commands,
        maxBuffer: 1 << 30,
      });
      const reference = READINGS / ((performance.now() - raw) / 1000);

      const aggregator = new ServiceProcess('aggregator', ['temps:20250101'], {
        REDIS_URL: server.url,
        PORT: String(await freePort()),
      });
      await aggregator.waitFor('Starting aggregating consumer', 60_000);
      const started = performance.now();
      for (;;) {
        const [top] = await redis.xrevrange('temps:averages', '+', '-', 'COUNT', 1);
        if (top?.[0] === LAST_AVERAGE) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const rate = READINGS / ((performance.now() - started) / 1000);
      await aggregator.kill('SIGTERM');
      results.push({ reference, aggregator: rate });
      console.log(
        `round ${round}: redis-cli XRANGE ${fmt(reference)}/s | aggregator ${fmt(rate)}/s | ratio ${(rate / reference).toFixed(2)}`,
      );
    }
  } finally {
    await server.stop();
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const ratio = median(results.map((r) => r.aggregator / r.reference));
  console.log(
    `median: redis-cli XRANGE ${fmt(median(results.map((r) => r.reference)))}/s, aggregator ` +
      `${fmt(median(results.map((r) => r.aggregator)))}/s, ratio ${ratio.toFixed(2)} ` +
      (SMOKE ? '(smoke run: no target)' : '(target >= 0.50)'),
  );
  process.exitCode = SMOKE || ratio >= 0.5 ? 0 : 1;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
