import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  ServiceProcess,
  eventually,
  freePort,
  runService,
  startPrivateRedis,
  workspaceRoot,
  type PrivateRedis,
} from '@temps/testing';
import type { Redis } from 'ioredis';

const LINE =
  /^Average temperature for \d{4}\/\d{2}\/\d{2} at \d{1,2} was \d+F \(\d+ observations\)\.$/;

describe('averages reader', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let running: ServiceProcess[] = [];
  const env = () => ({ REDIS_URL: server.url });
  async function start(service: string, args: string[] = [], extra: NodeJS.ProcessEnv = {}) {
    const port = await freePort();
    const child = new ServiceProcess(service, args, { ...env(), PORT: String(port), ...extra });
    running.push(child);
    return { child, base: `http://127.0.0.1:${port}` };
  }
  /** Averages for `days` days, made by the real producer and aggregator. */
  async function averagesFor(days: number) {
    await runService('producer', ['--days', String(days), '--seed', '6'], env());
    const { child } = await start('aggregator', ['temps:20250101']);
    // Done when the last hour of the last day is on temps:averages.
    const lastHour = `${Date.UTC(2025, 0, 1) + days * 86_400_000 - 3_600_000}-0`;
    await eventually(
      async () =>
        (await redis.xrevrange('temps:averages', '+', '-', 'COUNT', 1))[0]?.[0] === lastHour,
      60_000,
    );
    await child.kill('SIGTERM');
  }

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterEach(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    running = [];
  });
  afterAll(() => server.stop());
  beforeEach(() => redis.flushall());

  it('prints every average in the seed wording, saves last_message_id and resumes after it', async () => {
    await averagesFor(2);
    const { child: first } = await start('averages');
    await first.waitFor('Waiting for new messages in stream temps:averages');
    const lines = first.stdout.split('\n').filter((l) => l.startsWith('Average'));
    expect(lines).toHaveLength(48);
    expect(lines.every((l) => LINE.test(l))).toBe(true);
    expect(lines[0]).toMatch(
      /^Average temperature for 2025\/01\/01 at 0 was \d+F \(3600 observations\)\.$/,
    );
    expect(first.stdout).toContain(
      'Starting averages consumer in stream temps:averages at message 0.',
    );
    const [[lastId]] = await redis.xrevrange('temps:averages', '+', '-', 'COUNT', 1);
    expect(await redis.hget('averages_consumer_state', 'last_message_id')).toBe(lastId);
    await first.kill('SIGKILL');

    const { child: second } = await start('averages');
    await second.waitFor('Waiting for new messages');
    expect(second.stdout).toContain(
      `Starting averages consumer in stream temps:averages at message ${lastId}.`,
    );
    expect(second.stdout).not.toContain('Average temperature');
  });

  it('says how many averages it missed when the cap trimmed them before it read them', async () => {
    await averagesFor(10);
    const { child, base } = await start('averages');
    await child.waitFor('Waiting for new messages');
    expect(child.stdout).toContain(
      'Missed 120 hourly averages: trimmed from temps:averages (MAXLEN) before they were read.',
    );
    expect(child.stdout.split('\n').filter((l) => LINE.test(l))).toHaveLength(120);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^temps_averages_read_total\{service="averages"\} 120$/m);
    expect(metrics).toMatch(/^temps_averages_missed_total\{service="averages"\} 120$/m);
    const health = (await (await fetch(`${base}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
  });

  it('prints in yellow on a terminal (FORCE_COLOR), plainly otherwise, and skips malformed entries', async () => {
    await redis.xadd('temps:averages', '1000-0', 'hour', 'x');
    await redis.xadd(
      'temps:averages',
      '2000-0',
      'hour',
      '3',
      'date',
      '2025/01/01',
      'average_temp_f',
      '50',
      'num_observations',
      '3600',
      'seq',
      '2',
    );
    const { child } = await start('averages', [], { FORCE_COLOR: '1' });
    await child.waitFor('Waiting for new messages');
    expect(child.stdout).toContain(
      '\u001b[33mAverage temperature for 2025/01/01 at 3 was 50F (3600 observations).\u001b[0m',
    );
    expect(child.stdout + child.stderr).toContain(
      'Skipping temps:averages entry 1000-0: not an hourly average.',
    );
    await child.kill('SIGKILL');
    await redis.del('averages_consumer_state');
    const { child: plain } = await start('averages');
    await plain.waitFor('Waiting for new messages');
    expect(plain.stdout).not.toContain('\u001b[');
  });

  it("reads averages in the exercise's own format (no seq, auto IDs) as the exercise does", async () => {
    // As the exercise's reference aggregator writes them: four fields, an ID from the clock, a cap.
    const reference = (hour: string, average: string) =>
      redis.xadd(
        'temps:averages',
        'MAXLEN',
        '~',
        '120',
        '*',
        'hour',
        hour,
        'date',
        '2025/01/01',
        'average_temp_f',
        average,
        'num_observations',
        '3600',
      );
    await reference('0', '48');
    await reference('1', '51.25');
    const { child, base } = await start('averages');
    await child.waitFor('Waiting for new messages');
    await reference('2', '-3');
    await eventually(() => child.stdout.includes('at 2 was -3F'));
    expect(child.stdout.split('\n').filter((l) => l.startsWith('Average'))).toEqual([
      'Average temperature for 2025/01/01 at 0 was 48F (3600 observations).',
      'Average temperature for 2025/01/01 at 1 was 51.25F (3600 observations).',
      'Average temperature for 2025/01/01 at 2 was -3F (3600 observations).',
    ]);
    expect(child.stdout + child.stderr).not.toMatch(/Skipping|Missed/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^temps_averages_read_total\{service="averages"\} 3$/m);
    expect(metrics).toMatch(/^temps_averages_malformed_total\{service="averages"\} 0$/m);
    expect(metrics).toMatch(/^temps_averages_missed_total\{service="averages"\} 0$/m);
    const [[lastId]] = await redis.xrevrange('temps:averages', '+', '-', 'COUNT', 1);
    expect(await redis.hget('averages_consumer_state', 'last_message_id')).toBe(lastId);
  });

  it('stops cleanly on SIGTERM within 2 s', async () => {
    const { child } = await start('averages');
    await child.waitFor('Waiting for new messages');
    const started = Date.now();
    expect((await child.kill('SIGTERM')).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('npm run consumers', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await startPrivateRedis();
  });
  afterAll(() => server.stop());

  function consumers(args: string[]) {
    const child = spawn(
      process.execPath,
      [join(workspaceRoot(), 'dist/tools/tools/src/consumers.js'), ...args],
      {
        env: { PATH: process.env.PATH, REDIS_URL: server.url },
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    return { child, output: () => out, exited };
  }

  it('without saved state prints the seed hints and exits 1; a bad key is refused', async () => {
    const none = consumers([]);
    expect(await none.exited).toBe(1);
    expect(none.output()).toContain(
      'agg: No stream key and last message ID found in Redis.\nagg: Start the consumer with stream key parameter.',
    );
    const bad = consumers(['temps:nope']);
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('agg: Invalid stream key supplied.');
  });

  it('runs both with agg:/avg: prefixes, starting over from a partition, and stops on Ctrl+C', async () => {
    await runService('producer', ['--days', '1', '--seed', '2'], { REDIS_URL: server.url });
    const run = consumers(['temps:20250101']);
    await eventually(
      () =>
        run.output().includes('avg: Waiting for new messages in stream temps:averages') &&
        run
          .output()
          .split('\n')
          .filter((l) => l.startsWith('avg: Average temperature')).length === 24,
      30_000,
    );
    expect(run.output()).toContain(
      'agg: Starting aggregating consumer in stream temps:20250101 at message 0.',
    );
    expect(run.output()).toContain(
      'avg: Starting averages consumer in stream temps:averages at message 0.',
    );
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);

    const resumed = consumers([]);
    await eventually(() =>
      resumed
        .output()
        .includes(
          'avg: Starting averages consumer in stream temps:averages at message 1735772400000-0.',
        ),
    );
    expect(resumed.output()).toMatch(
      /agg: Starting aggregating consumer in stream temps:20250101 at message 1735775999000-0\./,
    );
    resumed.child.kill('SIGTERM');
    expect(await resumed.exited).toBe(0);
  });
});

describe('averages reader: state that vanishes or is replaced while it runs', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let running: ServiceProcess[] = [];
  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterEach(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    running = [];
  });
  afterAll(() => server.stop());
  beforeEach(() => redis.flushall());

  const average = (hour: number, seq: number) =>
    redis.xadd(
      'temps:averages',
      `${Date.UTC(2025, 0, 1) + hour * 3_600_000}-0`,
      'hour',
      String(hour),
      'date',
      '2025/01/01',
      'average_temp_f',
      '50',
      'num_observations',
      '3600',
      'seq',
      String(seq),
    );
  async function reader() {
    const child = new ServiceProcess('averages', [], {
      REDIS_URL: server.url,
      PORT: String(await freePort()),
    });
    running.push(child);
    return child;
  }
  const lines = (child: ServiceProcess, pattern: RegExp) =>
    (child.stdout + child.stderr).split('\n').filter((l) => pattern.test(l)).length;

  it('its state deleted: says so once and reads temps:averages again from its start', async () => {
    await average(0, 1);
    const child = await reader();
    await child.waitFor('Waiting for new messages');
    await redis.del('averages_consumer_state');
    await average(1, 2);
    await child.waitFor(
      'averages_consumer_state disappeared from Redis while the reader ran (deleted, or evicted under an allkeys-* maxmemory-policy); reading temps:averages again from its start.',
    );
    await eventually(async () => (await redis.hget('averages_consumer_state', 'last_seq')) === '2');
    expect(lines(child, /disappeared from Redis/)).toBe(1);
    expect(lines(child, /at 1 was 50F/)).toBeGreaterThanOrEqual(1);
  });

  it('a second reader on the same state says so once and waits; no position from memory is written over', async () => {
    await average(0, 1);
    const first = await reader();
    await first.waitFor('Waiting for new messages');
    const second = await reader();
    await second.waitFor('Waiting for new messages');
    for (let hour = 1; hour <= 5; hour++) {
      await average(hour, hour + 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await eventually(async () => (await redis.hget('averages_consumer_state', 'last_seq')) === '6');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const [[lastId]] = await redis.xrevrange('temps:averages', '+', '-', 'COUNT', 1);
    expect(await redis.hget('averages_consumer_state', 'last_message_id')).toBe(lastId);
    const warned =
      lines(first, /Another averages reader/) + lines(second, /Another averages reader/);
    expect(warned).toBe(1);
  });
});
