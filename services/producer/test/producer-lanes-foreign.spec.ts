import { eventually, startPrivateRedis, type PrivateRedis } from '@temps/testing';
import { LaneStateHash, laneLayout, partitionKeyFor } from '@temps/streams';
import { LaneProducer } from './lanes-fixture';

const JAN_1_2025 = Date.UTC(2025, 0, 1);

describe("producer lanes: someone else's key where a lane starts", () => {
  let server: PrivateRedis;
  beforeAll(async () => (server = await startPrivateRedis()));
  afterAll(() => server.stop());

  it('a following producer keeps the other lanes going, is unhealthy with the reason, and takes the lane once the key is gone', async () => {
    const redis = server.client();
    const [free, blocked] = laneLayout(2, 2);
    const foreign = partitionKeyFor(JAN_1_2025, blocked.tag);
    await redis.hset(foreign, 'owner', 'someone else');
    const producer = await LaneProducer.start(server, [
      '--follow',
      '--resume',
      '--shards',
      '2',
      '--speed',
      '3600',
    ]);
    try {
      await producer.process.waitFor(`${foreign} is a hash`, 30_000);
      const watermark = (tag: string) =>
        redis.hget(LaneStateHash.keyOf(tag), LaneStateHash.FIELDS.watermarkMs);
      // The free lane is written meanwhile; the process stays up and says why it is unhealthy.
      await eventually(async () => Number(await watermark(free.tag)) > JAN_1_2025, 30_000);
      await eventually(async () => (await producer.get('/health')).status === 503, 30_000);
      expect((await producer.get('/health')).body).toContain(foreign);
      expect(producer.process.running).toBe(true);

      await redis.del(foreign);
      await eventually(async () => Number(await watermark(blocked.tag)) > JAN_1_2025, 30_000);
      await eventually(async () => (await producer.get('/health')).status === 200, 30_000);
      expect(await redis.type(foreign)).toBe('stream');
    } finally {
      await producer.process.kill('SIGKILL');
      redis.disconnect();
    }
  });
});
