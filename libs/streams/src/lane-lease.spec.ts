import fc from 'fast-check';
import { fairShare, leaseStep, type LeaseTable } from './lane-lease';

const LEASE = 5_000;
const emptyTable = (shards: number): LeaseTable => ({
  members: {},
  lanes: Array.from({ length: shards }, () => ({ holder: '', leaseUntilMs: 0, fence: 0 })),
  fenceSeq: 0,
});

/** Producers' actions on the registry: a lease call, a graceful leave, or time passing. */
const ops = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('call' as const), who: fc.nat(5) }),
    fc.record({ kind: fc.constant('leave' as const), who: fc.nat(5) }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.nat(2 * LEASE) }),
  ),
  { maxLength: 60 },
);

const ids = ['p-a', 'p-b', 'p-c', 'p-d', 'p-e', 'p-f'];

describe('fairShare', () => {
  it('splits S lanes over n members: the first S mod n (by id) get one more, all sum to S', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 256 }),
        fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 20 }),
        (shards, members) => {
          const shares = members.map((id) => fairShare(shards, members, id));
          expect(shares.reduce((a, b) => a + b, 0)).toBe(shards);
          expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
          const sorted = [...members].sort();
          sorted.forEach((id, i) =>
            expect(fairShare(shards, members, id)).toBe(
              Math.floor(shards / members.length) + (i < shards % members.length ? 1 : 0),
            ),
          );
        },
      ),
    );
    expect(fairShare(6, ['b', 'a', 'c', 'd'], 'a')).toBe(2);
    expect(fairShare(6, ['b', 'a', 'c', 'd'], 'd')).toBe(1);
    expect(fairShare(6, ['a'], 'z')).toBe(0);
  });
});

describe('leaseStep', () => {
  it('never gives a lane two holders, only live members hold lanes, and every take gets a token above all before', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), ops, (shards, sequence) => {
        let table = emptyTable(shards);
        let now = 1_000_000;
        let highest = 0;
        for (const op of sequence) {
          if (op.kind === 'wait') {
            now += op.ms;
            continue;
          }
          const outcome = leaseStep(table, ids[op.who], now, LEASE, op.kind === 'leave');
          for (const lane of outcome.taken) {
            expect(outcome.table.lanes[lane].fence).toBeGreaterThan(highest);
            highest = outcome.table.lanes[lane].fence;
          }
          table = outcome.table;
          // One holder field per lane: "two holders" would be two members each told they hold it.
          for (const [index, lane] of table.lanes.entries()) {
            if (lane.holder === '') continue;
            expect(table.members[lane.holder]).toBeGreaterThan(now);
            expect(lane.fence).toBeGreaterThan(0);
            // The holder's token is the newest one handed out for this lane.
            expect(lane.fence).toBeLessThanOrEqual(table.fenceSeq);
            expect(index).toBeLessThan(shards);
          }
          expect(outcome.held.map((h) => h.lane)).toEqual(
            table.lanes.flatMap((lane, i) => (lane.holder === ids[op.who] ? [i] : [])),
          );
          if (op.kind === 'leave') expect(outcome.held).toEqual([]);
        }
      }),
    );
  });

  it('converges to an even split within three rounds of calls (join, give back, take), whatever happened before', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        ops,
        fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(5), { minLength: 18, maxLength: 18 }),
        (shards, history, survivors, order) => {
          let table = emptyTable(shards);
          let now = 1_000_000;
          for (const op of history) {
            if (op.kind === 'wait') now += op.ms;
            else table = leaseStep(table, ids[op.who], now, LEASE, op.kind === 'leave').table;
          }
          // Everyone else dies: their leases lapse. Then the survivors call three times, in any order.
          now += LEASE;
          const rounds = [0, 1, 2].map((round) =>
            [...survivors].sort((a, b) => order[a + round * 6] - order[b + round * 6] || a - b),
          );
          for (const round of rounds) {
            for (const who of round) table = leaseStep(table, ids[who], now, LEASE).table;
            now += LEASE / 3;
          }
          const live = survivors.map((who) => ids[who]);
          for (const id of live) {
            const held = table.lanes.filter((lane) => lane.holder === id).length;
            expect(held).toBe(fairShare(shards, live, id));
          }
          expect(table.lanes.every((lane) => live.includes(lane.holder))).toBe(true);
        },
      ),
    );
  });

  it('hands a dead member’s lanes to the others only after its lease ran out', () => {
    let table = emptyTable(6);
    table = leaseStep(table, 'a', 0, LEASE).table;
    table = leaseStep(table, 'b', 0, LEASE).table;
    table = leaseStep(table, 'a', 1_000, LEASE).table; // gives 3 back for b
    table = leaseStep(table, 'b', 1_000, LEASE).table;
    expect(table.lanes.map((lane) => lane.holder)).toEqual(['a', 'a', 'a', 'b', 'b', 'b']);
    // b dies at 1 s; a renews on.
    table = leaseStep(table, 'a', 5_999, LEASE).table;
    expect(table.lanes.filter((lane) => lane.holder === 'a')).toHaveLength(3);
    const after = leaseStep(table, 'a', 6_000, LEASE);
    expect(after.held.map((h) => h.lane)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(after.taken).toEqual([3, 4, 5]);
    expect(after.held.slice(3).map((h) => h.fence)).toEqual([10, 11, 12]);
  });

  it('a leaving member gives everything back at once, for the others to take at their next call', () => {
    let table = emptyTable(4);
    table = leaseStep(table, 'a', 0, LEASE).table;
    table = leaseStep(table, 'b', 0, LEASE).table;
    table = leaseStep(table, 'a', 0, LEASE).table;
    table = leaseStep(table, 'b', 0, LEASE).table;
    const left = leaseStep(table, 'a', 10, LEASE, true);
    expect(left.released).toEqual([0, 1]);
    expect(left.live).toBe(1);
    expect(leaseStep(left.table, 'b', 20, LEASE).held.map((h) => h.lane)).toEqual([0, 1, 2, 3]);
  });
});
