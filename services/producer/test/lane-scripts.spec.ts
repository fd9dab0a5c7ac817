import fc from 'fast-check';
import { FencedError, ForeignEntryError, StaleStateError, StateGoneError } from '@temps/redis';
import {
  LaneRegistryHash,
  LaneStateHash,
  ReadingGenerator,
  laneLayout,
  leaseStep,
  type LeaseTable,
  type ProducerStateHash,
} from '@temps/streams';
import { usePrivateRedis } from '@temps/testing';
import type { Redis } from 'ioredis';
import { LanesRepository } from '../src/lanes.repository';

const JAN_1_2025 = Date.UTC(2025, 0, 1);
const run = (runId: string, devices: number): ProducerStateHash.RunParams => ({
  runId,
  startMs: JAN_1_2025,
  endMs: JAN_1_2025 + 86_400_000,
  intervalMs: 1_000,
  devices,
  seed: 9,
  rate: 1,
  paced: false,
  realStartMs: Date.now(),
});

/** The registry's lease bookkeeping, as leaseStep models it. */
async function table(redis: Redis): Promise<LeaseTable> {
  return LaneRegistryHash.parse(await redis.hgetall(LaneRegistryHash.KEY)).leases;
}

describe('lane scripts on a real Redis', () => {
  const fixture = usePrivateRedis();
  let redis: Redis;
  let lanes: LanesRepository;
  beforeAll(() => {
    redis = fixture.redis;
    lanes = new LanesRepository(fixture.server.client());
  });
  beforeEach(() => redis.flushall());

  it('LEASE_LANES decides exactly as leaseStep, call by call, with lapses injected', async () => {
    const ids = ['p0', 'p1', 'p2', 'p3'];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 9 }),
        fc.array(
          fc.record({
            who: fc.nat(3),
            kind: fc.constantFrom('call', 'call', 'call', 'leave', 'lapse'),
          }),
          { minLength: 1, maxLength: 25 },
        ),
        async (shards, ops) => {
          await redis.flushall();
          await lanes.createRun(run('r', 12), shards, true);
          let model = await table(redis);
          for (const { who, kind } of ops) {
            const id = ids[who];
            if (kind === 'lapse') {
              // The producer stops renewing and its time runs out: set in both, as Redis would see it.
              const fields: string[] = [];
              if (id in model.members) fields.push(LaneRegistryHash.memberField(id), '1');
              model.lanes.forEach((lane, i) => {
                if (lane.holder === id)
                  fields.push(LaneRegistryHash.laneField.leaseUntilMs(i), '1');
              });
              if (fields.length > 0) await redis.hset(LaneRegistryHash.KEY, ...fields);
              model = await table(redis);
              continue;
            }
            const call = await lanes.lease('r', id, 60_000, kind === 'leave');
            const expected = leaseStep(model, id, call.nowMs, 60_000, kind === 'leave');
            expect(call.held).toEqual(
              expected.held.map(({ lane, fence }) => ({ lane, token: String(fence) })),
            );
            expect(call.taken).toEqual(expected.taken);
            expect(call.released).toEqual(expected.released);
            expect(call.live).toBe(expected.live);
            model = await table(redis);
            expect(model).toEqual(expected.table);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('starts a run’s tokens above every token of the run it replaces', async () => {
    await lanes.createRun(run('old', 4), 4, true);
    const old = (await lanes.lease('old', 'p', 5_000)).held.map((h) => BigInt(h.token));
    await lanes.createRun(run('new', 4), 4, true);
    const fresh = (await lanes.lease('new', 'p', 5_000)).held.map((h) => BigInt(h.token));
    expect(fresh.every((token) => old.every((before) => token > before))).toBe(true);
    expect(await lanes.createRun(run('other', 4), 4, false)).toBe(false);
    expect(await redis.hget(LaneRegistryHash.KEY, 'run_id')).toBe('new');
  });

  it('refuses a lease call for a run replaced or gone', async () => {
    await lanes.createRun(run('r', 4), 4, true);
    await expect(lanes.lease('other', 'p', 5_000)).rejects.toBeInstanceOf(StaleStateError);
    await redis.del(LaneRegistryHash.KEY);
    await expect(lanes.lease('r', 'p', 5_000)).rejects.toBeInstanceOf(StateGoneError);
  });

  describe('a lane batch and a lane take', () => {
    const params = run('r', 4);
    const [lane] = laneLayout(2, 4);
    const first = ReadingGenerator.seeded(1, lane.devices).state();
    const partition = `temps:20250101:{${lane.tag}}`;
    const stateKey = LaneStateHash.keyOf(lane.tag);
    const claim = (token: string, partitions: string[] = [partition], confirms = true) =>
      lanes.claimLane(params, lane, token, first, 'me', confirms, async () => partitions);
    const batch = (firstMs = JAN_1_2025) => ({
      partition,
      firstMs,
      temps: [70, 71, 72, 73],
      expireAtMs: Date.now() + 60_000,
      watermarkMs: firstMs + 2_000,
      generator: first,
    });

    it('starts a lane afresh (its old partitions deleted), then writes with the token: IDs <ms>-<i>, device_id global', async () => {
      await redis.xadd(partition, '5-0', 'temp_f', 'left from an older run');
      const started = await claim('10');
      expect(started.started).toBe(true);
      expect(started.state).toMatchObject({ runId: 'r', watermarkMs: JAN_1_2025, fence: 10 });
      await expect(lanes.writeLaneBatch(params, lane, '10', 'me', batch())).resolves.toBe(4);
      const entries = await redis.xrange(partition, '-', '+');
      expect(entries).toEqual([
        [`${JAN_1_2025}-0`, ['temp_f', '70', 'device_id', '0']],
        [`${JAN_1_2025}-1`, ['temp_f', '71', 'device_id', '1']],
        [`${JAN_1_2025 + 1_000}-0`, ['temp_f', '72', 'device_id', '0']],
        [`${JAN_1_2025 + 1_000}-1`, ['temp_f', '73', 'device_id', '1']],
      ]);
      expect(await redis.pttl(partition)).toBeGreaterThan(0);
    });

    it('a batch with an older token is FENCED once a later holder took the lane, and writes nothing', async () => {
      await claim('10');
      await lanes.writeLaneBatch(params, lane, '10', 'me', batch());
      const taken = await claim('11');
      expect(taken).toMatchObject({ started: false, state: { watermarkMs: JAN_1_2025 + 2_000 } });
      const before = await redis.xlen(partition);
      await expect(
        lanes.writeLaneBatch(params, lane, '10', 'me', batch(JAN_1_2025 + 2_000)),
      ).rejects.toBeInstanceOf(FencedError);
      expect(await redis.xlen(partition)).toBe(before);
      // A fence only rises: a take with a token not above it is refused too.
      await expect(claim('11')).rejects.toBeInstanceOf(FencedError);
      await expect(claim('9')).rejects.toBeInstanceOf(FencedError);
    });

    it('CONFIRM_LANE moves the confirmed mark only up, never past the watermark, only for the fence holder', async () => {
      const mark = async () => Number(await redis.hget(stateKey, LaneStateHash.FIELDS.confirmedMs));
      await claim('10');
      // A first mark where there is none, and only then.
      await expect(lanes.confirmLane(lane.tag, '10', JAN_1_2025, true)).resolves.toBe(true);
      await expect(lanes.confirmLane(lane.tag, '10', JAN_1_2025 - 5, true)).resolves.toBe(false);
      expect(await mark()).toBe(JAN_1_2025);
      await lanes.writeLaneBatch(params, lane, '10', 'me', batch());
      // Past the watermark (readings a failover lost are not vouched for): held at the watermark.
      await expect(lanes.confirmLane(lane.tag, '10', JAN_1_2025 + 9_000)).resolves.toBe(true);
      expect(await mark()).toBe(JAN_1_2025 + 2_000);
      // Never down.
      await expect(lanes.confirmLane(lane.tag, '10', JAN_1_2025 + 1_000)).resolves.toBe(false);
      expect(await mark()).toBe(JAN_1_2025 + 2_000);
      // A producer whose lane was taken confirms nothing.
      await lanes.writeLaneBatch(params, lane, '10', 'me', batch(JAN_1_2025 + 2_000));
      await claim('11');
      await expect(lanes.confirmLane(lane.tag, '10', JAN_1_2025 + 4_000)).resolves.toBe(false);
      expect(await mark()).toBe(JAN_1_2025 + 2_000);
      await expect(lanes.confirmLane(lane.tag, '11', JAN_1_2025 + 4_000)).resolves.toBe(true);
      expect(await mark()).toBe(JAN_1_2025 + 4_000);
    });

    it('a holder that does not confirm with replicas takes the lane without its confirmed mark', async () => {
      const fields = () => redis.hkeys(stateKey);
      await claim('10');
      await lanes.confirmLane(lane.tag, '10', JAN_1_2025, true);
      await lanes.writeLaneBatch(params, lane, '10', 'me', batch());
      await lanes.confirmLane(lane.tag, '10', JAN_1_2025 + 2_000);
      // Taken by a holder with REDIS_WAIT_REPLICAS: the mark stays (it moves it from there).
      await claim('11');
      expect(await redis.hget(stateKey, LaneStateHash.FIELDS.confirmedMs)).toBe(
        String(JAN_1_2025 + 2_000),
      );
      // Then by one without: the mark goes (nothing would move it again), the rest stays.
      await claim('12', [partition], false);
      expect(await fields()).not.toContain(LaneStateHash.FIELDS.confirmedMs);
      expect(await redis.hget(stateKey, LaneStateHash.FIELDS.watermarkMs)).toBe(
        String(JAN_1_2025 + 2_000),
      );
      expect(await redis.hget(stateKey, LaneStateHash.FIELDS.fence)).toBe('12');
      // A fenced claim changes nothing, the mark included.
      await lanes.confirmLane(lane.tag, '12', JAN_1_2025 + 2_000, true);
      await expect(claim('11', [partition], false)).rejects.toBeInstanceOf(FencedError);
      expect(await fields()).toContain(LaneStateHash.FIELDS.confirmedMs);
    });

    it('keeps the default refusals: not at the position, another run, a foreign entry, a state gone', async () => {
      await claim('10');
      await expect(
        lanes.writeLaneBatch(params, lane, '10', 'me', batch(JAN_1_2025 + 5_000)),
      ).rejects.toBeInstanceOf(StaleStateError);
      await expect(
        lanes.writeLaneBatch({ ...params, runId: 'x' }, lane, '10', 'me', batch()),
      ).rejects.toBeInstanceOf(StaleStateError);
      await redis.xadd(partition, `${JAN_1_2025 + 1_000}-0`, 'temp_f', '1');
      await expect(lanes.writeLaneBatch(params, lane, '10', 'me', batch())).rejects.toBeInstanceOf(
        ForeignEntryError,
      );
      await redis.del(stateKey);
      await expect(lanes.writeLaneBatch(params, lane, '10', 'me', batch())).rejects.toBeInstanceOf(
        StateGoneError,
      );
    });
  });
});
