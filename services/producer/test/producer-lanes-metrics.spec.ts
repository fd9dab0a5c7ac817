import { eventually, metricValue, startPrivateRedis, type PrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';
import { LaneProducer, evenlyHeldBy, holdings, registry } from './lanes-fixture';

describe('producer lanes: health and metrics', () => {
  let server: PrivateRedis;
  let redis: Redis;
  const producers: LaneProducer[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client();
  });
  afterAll(async () => {
    await Promise.all(producers.map((p) => p.process.kill('SIGKILL')));
    await server.stop();
  });

  it('3 producers on 2 lanes: the holders report their lane and its watermark, the third stands by healthy; SIGTERM ends it with 0', async () => {
    const args = [
      '--shards',
      '2',
      '--devices',
      '4',
      '--seed',
      '5',
      '--follow',
      '--speed',
      '600',
      '--resume',
    ];
    producers.push(...(await Promise.all([0, 1, 2].map(() => LaneProducer.start(server, args)))));
    const ids = await Promise.all(producers.map((p) => p.id()));
    await eventually(() => evenlyHeldBy(redis, ids, 2), 15_000);
    const reg = (await registry(redis))!;
    const counts = await holdings(redis);

    for (const [i, producer] of producers.entries()) {
      await eventually(async () => (await producer.get('/health')).status === 200, 15_000);
      const held = reg.leases.lanes.flatMap((lane, index) =>
        lane.holder === ids[i] ? [reg.lanes[index].tag] : [],
      );
      expect(held).toHaveLength(counts.get(ids[i]) ?? 0);
      const text = await eventually(async () => {
        const body = (await producer.get('/metrics')).body;
        return metricValue(body, 'temps_producer_lanes_held{service="producer"}') === held.length &&
          (held.length === 0 ||
            (metricValue(body, 'temps_readings_produced_total{service="producer"}') ?? 0) > 0)
          ? body
          : null;
      }, 15_000);
      for (const tag of held) {
        expect(
          metricValue(text, `temps_producer_watermark_seconds{lane="${tag}",service="producer"}`),
        ).toBeGreaterThanOrEqual(Date.UTC(2025, 0, 1) / 1000);
      }
      // One series per lane held: none unlabelled, none for a lane held elsewhere.
      const series = text
        .split('\n')
        .filter((l) => l.startsWith('temps_producer_watermark_seconds{'));
      expect(series).toHaveLength(held.length);
      expect(metricValue(text, 'temps_producer_lease_lost_total{service="producer"}')).toBe(0);
    }

    const standby = producers[ids.findIndex((id) => !counts.has(id))];
    expect(standby.process.stdout).toContain('Holding no lane (0 of 2, 3 producers); standing by.');
    expect((await standby.process.kill('SIGTERM')).code).toBe(0);
  });
});
