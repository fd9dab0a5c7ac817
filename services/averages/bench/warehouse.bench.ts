/**
 * `npm run bench:warehouse`: ten years of hourly averages (87,600 rows) stored by the averages
 * service's warehouse sink (read from temps:averages, batched transactions) into a fresh database,
 * compared with PostgreSQL's own COPY of the same rows in the same run (median of BENCH_ROUNDS).
 * The target is a ratio of at least 0.2.
 * BENCH_SMOKE=1: one round of 2,000 hours that checks the path and asserts no ratio.
 */
import { benchmarkSinkRound, type SinkRound } from './sink-benchmark';

const SMOKE = process.env.BENCH_SMOKE === '1';
const HOURS = SMOKE ? 2_000 : Number(process.env.BENCH_HOURS ?? 87_600);
const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET = 0.2;

async function main(): Promise<void> {
  const rounds: SinkRound[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const result = await benchmarkSinkRound(HOURS);
    rounds.push(result);
    console.log(
      `round ${round}: COPY ${fmt(result.copy)} rows/s | sink ${fmt(result.sink)} rows/s | ratio ${(result.sink / result.copy).toFixed(2)}`,
    );
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const ratio = median(rounds.map((r) => r.sink / r.copy));
  console.log(
    `median over ${fmt(HOURS)} rows: COPY ${fmt(median(rounds.map((r) => r.copy)))} rows/s, sink ` +
      `${fmt(median(rounds.map((r) => r.sink)))} rows/s, ratio ${ratio.toFixed(2)} ` +
      (SMOKE ? '(smoke run: no target)' : `(target >= ${TARGET.toFixed(2)})`),
  );
  process.exitCode = SMOKE || ratio >= TARGET ? 0 : 1;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
