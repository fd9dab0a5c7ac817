import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  ServiceProcess,
  eventually,
  freePort,
  serviceEntry,
  startPrivateRedis,
  type PrivateRedis,
  metricValue,
} from '@temps/testing';
import { PRODUCER_STATE_KEY, partitionDayStart, partitionKeyFor } from '@temps/streams';
import type { Redis } from 'ioredis';

interface HealthBody {
  info: Record<string, { status: string }>;
  details: Record<string, { status: string }>;
}

describe('producer: --follow serves health and metrics while it writes', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let producer: ServiceProcess;
  let base: string;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    producer = new ServiceProcess('producer', ['--follow', '--speed', '3600', '--seed', '5'], {
      REDIS_URL: server.url,
      PORT: String(port),
    });
    await producer.waitFor('Serving /health and /metrics');
  });
  afterAll(async () => {
    await producer.kill('SIGKILL');
    await server.stop();
  });

  it('reports healthy with Redis reachable and the write loop turning', async () => {
    // Ready once the write loop has turned: it may not have at the moment HTTP is served.
    const response = await eventually(async () => {
      const answer = await fetch(`${base}/health`);
      return answer.status === 200 ? answer : null;
    }, 10_000);
    expect(response.status).toBe(200);
    const body = (await response.json()) as HealthBody;
    expect(body.info.redis.status).toBe('up');
    expect(body.info.write_loop.status).toBe('up');
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('keeps every reading before the watermark written, at every moment', async () => {
    for (let i = 0; i < 10; i++) {
      const watermark = Number(await redis.hget(PRODUCER_STATE_KEY, 'watermark_ms'));
      const newest = watermark - 1_000;
      const [[id]] = await redis.xrevrange(partitionKeyFor(newest), '+', '-', 'COUNT', 1);
      expect(Number(id.split('-')[0])).toBeGreaterThanOrEqual(newest);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('gives partitions lifetimes of 48-72 s at 3600x', async () => {
    const ttl = await redis.pttl('temps:20250101');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(72_000);
  });

  it('exposes readings, batches and watermark, and leaves the per-stream gauges to the averages reader', async () => {
    const text = await eventually(async () => {
      const body = await (await fetch(`${base}/metrics`)).text();
      return (metricValue(body, 'temps_readings_produced_total{service="producer"}') ?? 0) > 0
        ? body
        : null;
    });
    expect(metricValue(text, 'temps_producer_batches_total{service="producer"}')).toBeGreaterThan(
      0,
    );
    expect(
      metricValue(text, 'temps_producer_watermark_seconds{service="producer"}'),
    ).toBeGreaterThanOrEqual(Date.UTC(2025, 0, 1) / 1000);
    expect(metricValue(text, 'temps_redis_up{service="producer"}')).toBe(1);
    // The per-stream gauges belong to the averages reader alone: the producer does not scan Redis.
    expect(text).not.toMatch(
      /^temps_(stream_\w+|redis_memory_used_bytes|aggregator_headroom_seconds)\{/m,
    );
  });

  it('reports unhealthy (503) while Redis is gone, and stops cleanly on SIGTERM', async () => {
    const other = await startPrivateRedis();
    const port = await freePort();
    const follower = new ServiceProcess('producer', ['--follow', '--speed', '60'], {
      REDIS_URL: other.url,
      PORT: String(port),
    });
    try {
      await follower.waitFor('Serving /health');
      await other.stop();
      const down = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        return response.status === 503 ? ((await response.json()) as HealthBody) : null;
      });
      expect(down.details.redis.status).toBe('down');
      const finished = await follower.kill('SIGTERM');
      expect(finished.code).toBe(0);
    } finally {
      await follower.kill('SIGKILL');
    }
  });
});

describe('producer: --follow blocked by an entry it did not write', () => {
  it('stays up, reports 503 with the reason logged, and goes on once the entry is deleted', async () => {
    const server = await startPrivateRedis();
    const port = await freePort();
    const follower = new ServiceProcess(
      'producer',
      ['--follow', '--speed', '3600', '--seed', '8'],
      {
        REDIS_URL: server.url,
        PORT: String(port),
      },
    );
    const health = () =>
      fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.status,
        () => 0,
      );
    try {
      const redis = server.client();
      await eventually(async () => (await health()) === 200);
      // An entry ahead in the partition being written (an hour of simulated time, a real second):
      // every batch that reaches it is refused whole. Should the producer get there first, again.
      const { key, foreign, watermark } = await eventually(async () => {
        const at = Number(await redis.hget(PRODUCER_STATE_KEY, 'watermark_ms'));
        const day = partitionKeyFor(at);
        const id = Math.min(at + 3_600_000, partitionDayStart(day)! + 86_399_000);
        const added = await redis.xadd(day, `${id}-0`, 'temp_f', '1').catch(() => null);
        return added === null ? null : { key: day, foreign: added, watermark: id };
      });
      await follower.waitFor(`${key} holds entry ${foreign}, which this producer did not write`);
      await eventually(async () => (await health()) === 503, 20_000);
      const stuck = Number(await redis.hget(PRODUCER_STATE_KEY, 'watermark_ms'));
      expect(stuck).toBeLessThanOrEqual(watermark);
      expect(follower.exitCode).toBeNull();

      await redis.xdel(key, foreign);
      await eventually(async () => (await health()) === 200, 20_000);
      await eventually(
        async () => Number(await redis.hget(PRODUCER_STATE_KEY, 'watermark_ms')) > stuck,
      );
      // Nothing of a refused batch was written: the partition is gapless up to the watermark.
      const ids = (await redis.xrange(key, '-', '+')).map(([id]) => Number(id.split('-')[0]));
      const start = partitionDayStart(key)!;
      expect(ids.every((ms, i) => ms === start + i * 1_000)).toBe(true);
    } finally {
      await follower.kill('SIGKILL');
      await server.stop();
    }
  });
});

describe('producer: real time from now', () => {
  it('reduces to the seed rule: the partition expires 2 days after its newest reading', async () => {
    const server = await startPrivateRedis();
    const producer = new ServiceProcess(
      'producer',
      ['--follow', '--start', 'now', '--speed', '1'],
      {
        REDIS_URL: server.url,
        PORT: String(await freePort()),
      },
    );
    try {
      const redis = server.client();
      const key = await eventually(async () => (await redis.keys('temps:2*'))[0]);
      await eventually(async () => (await redis.xlen(key)) >= 2);
      const [[id]] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
      const newest = Number(id.split('-')[0]);
      const expiresAt = Date.now() + (await redis.pttl(key));
      expect(Math.abs(expiresAt - (newest + 2 * 86_400_000))).toBeLessThan(1_500);
      expect(key).toBe(partitionKeyFor(newest));
    } finally {
      await producer.kill('SIGKILL');
      await server.stop();
    }
  });
});

describe('producer: console', () => {
  it('shows a progress bar with rate and ETA on a terminal, plain lines otherwise', async () => {
    const server = await startPrivateRedis();
    try {
      const command = `${process.execPath} ${serviceEntry('producer')} --days 2 --speed 86400`;
      const { stdout: tty } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
        env: { ...process.env, REDIS_URL: server.url },
      });
      expect(tty).toMatch(/\d+% \| [\d,]+\/172800 readings \| [\d,]+\/s \| ETA/);
      expect(tty).toContain('Populating stream partition temps:20250102.');

      const plain = new ServiceProcess('producer', ['--days', '2'], { REDIS_URL: server.url });
      const { stdout } = await plain.exited;
      expect(stdout).not.toContain('ETA');
      expect(stdout).not.toContain('\u001b[');
    } finally {
      await server.stop();
    }
  });
});
