import {
  ServiceProcess,
  runService,
  startPrivateRedis,
  streamDigest,
  type PrivateRedis,
} from '@temps/testing';
import { DAY_MS, PRODUCER_STATE_KEY, partitionKeysBetween } from '@temps/streams';
import type { Redis } from 'ioredis';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const ARGS = ['--days', '4', '--devices', '2', '--seed', '77'];
const PARTITIONS = partitionKeysBetween(JAN_1_2025, JAN_1_2025 + 4 * DAY_MS);

async function digests(redis: Redis): Promise<string[]> {
  return Promise.all(PARTITIONS.map((key) => streamDigest(redis, key)));
}

describe('producer: killed with SIGKILL at random moments and resumed', () => {
  let reference: PrivateRedis;
  let victim: PrivateRedis;
  let expected: string[];

  beforeAll(async () => {
    [reference, victim] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
    const result = await runService('producer', ARGS, { REDIS_URL: reference.url });
    expect(result.code).toBe(0);
    expected = await digests(reference.client());
  });
  afterAll(() => Promise.all([reference.stop(), victim.stop()]));

  it('ends with exactly the entries of an uninterrupted run: none missing, none doubled', async () => {
    const redis = victim.client();
    const env = { REDIS_URL: victim.url };
    let killsWhileWriting = 0;
    // First start resets; every later start resumes.
    let args = ARGS;
    for (let attempt = 0; attempt < 40; attempt++) {
      const producer = new ServiceProcess('producer', args, env);
      args = [...ARGS, '--resume'];
      const delay = 150 + Math.floor(Math.random() * 600);
      const finished = await Promise.race([
        producer.exited,
        new Promise((resolve) => setTimeout(resolve, delay)),
      ]);
      if (finished) {
        expect(producer.stdout).toMatch(/Resuming at|already complete|Populating/);
        break;
      }
      await producer.kill('SIGKILL');
      killsWhileWriting++;
      // No partition may ever be left without an expiry, whenever the kill landed.
      for (const key of PARTITIONS) {
        if (await redis.exists(key)) expect(await redis.pttl(key)).toBeGreaterThan(0);
      }
    }
    const last = await runService('producer', [...ARGS, '--resume'], env);
    expect(last.code).toBe(0);
    expect(killsWhileWriting).toBeGreaterThan(2);
    expect(await digests(redis)).toEqual(expected);
    expect(Number(await redis.hget(PRODUCER_STATE_KEY, 'watermark_ms'))).toBe(
      JAN_1_2025 + 4 * DAY_MS,
    );
  });

  it('refuses to resume with options that contradict the saved run, touching nothing', async () => {
    const result = await runService(
      'producer',
      [...ARGS.slice(0, 2), '--devices', '5', '--resume'],
      {
        REDIS_URL: victim.url,
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Cannot resume: the saved run has devices = 2, but 5 was asked for/,
    );
    expect(await digests(victim.client())).toEqual(expected);
  });

  it('starts a new run when there is nothing to resume', async () => {
    const fresh = await startPrivateRedis();
    try {
      const result = await runService('producer', [...ARGS, '--resume'], { REDIS_URL: fresh.url });
      expect(result.stdout).toContain('No run to resume; starting a new one.');
      expect(await digests(fresh.client())).toEqual(expected);
    } finally {
      await fresh.stop();
    }
  });
});
