/**
 * `npm run bench:producer`: the default 10-day run (864,000 readings) against a private Redis,
 * compared with redis-benchmark's pipelined XADD on the same server in the same run.
 * The producer's rate is taken over its write phase (from "Deleting old streams:" to exit);
 * the whole process, Node and Nest start-up included, is printed too.
 * BENCH_SMOKE=1: one round of one day (86,400 readings) that checks the path and asserts no ratio.
 */
import { execFileSync } from 'node:child_process';
import { ServiceProcess, startPrivateRedis } from '@temps/testing';

const SMOKE = process.env.BENCH_SMOKE === '1';
const DAYS = SMOKE ? 1 : 10;
const READINGS = DAYS * 86_400;
const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  const server = await startPrivateRedis();
  const redis = server.client();
  const results: { reference: number; producer: number; whole: number }[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await redis.flushall();
      const benchmark = execFileSync(
        'redis-benchmark',
        [
          '-p',
          String(server.port),
          '-P',
          '1000',
          '-c',
          '1',
          '-n',
          String(READINGS),
          '-q',
          'XADD',
          's',
          '*',
          'temp_f',
          '70',
        ],
        { encoding: 'utf8' },
      );
      const reference = Number(/([\d.]+) requests per second/.exec(benchmark)?.[1]);
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
      const stored = await redis.eval(
        "local n=0 for _,k in ipairs(redis.call('KEYS','temps:2*')) do n=n+redis.call('XLEN',k) end return n",
        0,
      );
      if (stored !== READINGS) throw new Error(`expected ${READINGS} readings, found ${stored}`);

      const producerRate = READINGS / ((ended - writing) / 1000);
      const whole = READINGS / ((ended - started) / 1000);
      results.push({ reference, producer: producerRate, whole });
      console.log(
        `round ${round}: redis-benchmark XADD ${fmt(reference)}/s | producer ${fmt(producerRate)}/s ` +
          `(whole process ${fmt(whole)}/s) | ratio ${(producerRate / reference).toFixed(2)}`,
      );
    }
  } finally {
    await server.stop();
  }
  const median = (pick: (r: (typeof results)[number]) => number) =>
    results.map(pick).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  const ratio = median((r) => r.producer / r.reference);
  console.log(
    `median: redis-benchmark ${fmt(median((r) => r.reference))}/s, producer ${fmt(median((r) => r.producer))}/s, ` +
      `whole process ${fmt(median((r) => r.whole))}/s, ratio ${ratio.toFixed(2)} ` +
      (SMOKE ? '(smoke run: no target)' : '(target >= 0.50)'),
  );
  process.exitCode = SMOKE || ratio >= 0.5 ? 0 : 1;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
