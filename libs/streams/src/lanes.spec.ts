import fc from 'fast-check';
import {
  CLUSTER_SLOTS,
  LANES_AGGREGATOR_STATE_KEY,
  LANES_AVERAGES_READER_STATE_KEY,
  REGISTRY_KEY,
  laneLayout,
  laneSeed,
  laneStateKey,
  laneTag,
  slotOf,
} from './lanes';
import { LaneStateHash } from './state';
import { AVERAGES_STREAM } from './keys';
import {
  isPartitionKey,
  nextPartitionKey,
  partitionDayStart,
  partitionKeyFor,
  partitionKeysBetween,
  partitionTag,
} from './partition-key';

describe('lanes', () => {
  it("puts lane L's tag in the L-th S-th of the slot space, so lanes spread evenly over masters", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.nat(), (shards, pick) => {
        const lane = pick % shards;
        const slot = slotOf(laneTag(lane, shards));
        expect(slot).toBeGreaterThanOrEqual(Math.floor((lane * CLUSTER_SLOTS) / shards));
        expect(slot).toBeLessThan(Math.floor(((lane + 1) * CLUSTER_SLOTS) / shards));
      }),
    );
    // The 3 masters of `redis-cli --cluster create` own 0-5460, 5461-10922, 10923-16383.
    const master = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);
    const perMaster = [0, 0, 0];
    for (let lane = 0; lane < 6; lane++) perMaster[master(slotOf(laneTag(lane, 6)))]++;
    expect(perMaster).toEqual([2, 2, 2]);
  });

  it('gives every key of a lane the same slot, and the registry and consumer states the slot of temps:averages', () => {
    const tag = laneTag(4, 6);
    const slots = new Set([
      slotOf(laneStateKey(tag)),
      slotOf(partitionKeyFor(Date.UTC(2025, 0, 1), tag)),
      slotOf(partitionKeyFor(Date.UTC(2031, 5, 9), tag)),
    ]);
    expect(slots.size).toBe(1);
    const averages = slotOf(AVERAGES_STREAM);
    expect(slotOf(REGISTRY_KEY)).toBe(averages);
    expect(slotOf(LANES_AGGREGATOR_STATE_KEY)).toBe(averages);
    expect(slotOf(LANES_AVERAGES_READER_STATE_KEY)).toBe(averages);
  });

  it('splits the devices into S contiguous, non-empty lanes that cover each device once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 200 }), (s, extra) => {
        const devices = s + extra;
        const lanes = laneLayout(s, devices);
        expect(lanes).toHaveLength(s);
        let next = 0;
        for (const lane of lanes) {
          expect(lane.firstDevice).toBe(next);
          expect(lane.devices).toBeGreaterThanOrEqual(Math.floor(devices / s));
          expect(lane.devices).toBeLessThanOrEqual(Math.ceil(devices / s));
          next += lane.devices;
        }
        expect(next).toBe(devices);
        expect(new Set(lanes.map((lane) => lane.tag)).size).toBe(s);
      }),
    );
    expect(laneLayout(6, 10).map((lane) => lane.devices)).toEqual([1, 2, 2, 1, 2, 2]);
  });

  it('refuses lanes without devices and out-of-range shard counts', () => {
    expect(() => laneLayout(6, 5)).toThrow('6 lanes need at least 6 devices, got 5');
    expect(() => laneLayout(0, 5)).toThrow(RangeError);
    expect(() => laneLayout(1.5, 5)).toThrow(RangeError);
    expect(() => laneTag(6, 6)).toThrow(RangeError);
  });

  it("derives each lane's seed from the run's seed and the lane, all different", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        const seeds = Array.from({ length: 16 }, (_, lane) => laneSeed(seed, lane));
        expect(new Set(seeds).size).toBe(16);
        seeds.forEach((s) => expect(s >>> 0).toBe(s));
        expect(laneSeed(seed, 3)).toBe(seeds[3]);
      }),
    );
  });
});

describe('lane partitions', () => {
  const day = Date.UTC(2025, 0, 1);

  it('names a lane partition temps:YYYYMMDD:{tag} and parses it back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Date.UTC(9999, 11, 30) }),
        fc.integer({ min: 1, max: 32 }),
        fc.nat(),
        (ms, shards, pick) => {
          const tag = laneTag(pick % shards, shards);
          const key = partitionKeyFor(ms, tag);
          expect(key).toMatch(/^temps:\d{8}:\{\d+\.\d+\}$/);
          expect(isPartitionKey(key)).toBe(true);
          expect(partitionTag(key)).toBe(tag);
          expect(partitionDayStart(key)).toBe(partitionDayStart(partitionKeyFor(ms)));
          expect(partitionTag(nextPartitionKey(key)!)).toBe(tag);
        },
      ),
    );
  });

  it('keeps the exercise names unchanged and refuses malformed lane names', () => {
    expect(partitionKeyFor(day)).toBe('temps:20250101');
    expect(partitionTag('temps:20250101')).toBeNull();
    expect(partitionKeysBetween(day, day + 2 * 86_400_000, '0.3')).toEqual([
      'temps:20250101:{0.3}',
      'temps:20250102:{0.3}',
    ]);
    for (const bad of [
      'temps:20250101:{}',
      'temps:20250101:{a.b}',
      'temps:20250101:0.3',
      'temps:20250230:{0.3}',
    ]) {
      expect(isPartitionKey(bad)).toBe(false);
    }
  });
});

describe('LaneStateHash.readableUntil', () => {
  const text = fc.oneof(
    fc.constant(null),
    fc.constant(''),
    fc.integer({ min: 0, max: 2 ** 47 }).map(String),
  );

  it('is the watermark, lowered to the confirmed mark where there is one; null without a watermark', () => {
    fc.assert(
      fc.property(text, text, (watermark, confirmed) => {
        const until = LaneStateHash.readableUntil(watermark, confirmed);
        if (!watermark) return expect(until).toBeNull();
        const expected = confirmed
          ? Math.min(Number(watermark), Number(confirmed))
          : Number(watermark);
        expect(until).toBe(expected);
        expect(until!).toBeLessThanOrEqual(Number(watermark));
      }),
    );
  });
});
