/**
 * How producers share a run's lanes: the rule the registry's lease script applies, written once in
 * TypeScript so that it can be property-tested (the Lua in services/producer mirrors `leaseStep`
 * line for line, and a spec runs both on the same sequences).
 *
 * Every producer calls the step every lease/3 with Redis's clock. A call renews the caller's
 * membership, forgets members and lane leases whose time ran out, computes the caller's fair share
 * of the lanes over the live members, gives back lanes above it, renews the ones it keeps and takes
 * free ones up to it, each taken lane with a new fencing token (the run's `fence_seq` + 1).
 */

/** A lane's holder as the registry keeps it. */
export interface LaneLease {
  /** Producer id holding the lane; '' when free. */
  holder: string;
  /** Redis time (Unix ms) until which the holder's lease runs. */
  leaseUntilMs: number;
  /** The fencing token handed out with the lane's last take (0: never taken). */
  fence: number;
}

/** The registry's lease bookkeeping: live members and lane holders. */
export interface LeaseTable {
  /** Producer id → Redis time (Unix ms) until which it counts as alive. */
  members: Record<string, number>;
  lanes: LaneLease[];
  /** The last fencing token handed out. */
  fenceSeq: number;
}

/** What one call of the lease step decided for its caller. */
export interface LeaseOutcome {
  table: LeaseTable;
  /** Lanes the caller holds after the call (ascending), each with its token. */
  held: { lane: number; fence: number }[];
  /** Lanes the caller took in this call. */
  taken: number[];
  /** Lanes the caller gave back in this call (above its share, or all of them when leaving). */
  released: number[];
  /** Live members after the call (the caller included unless it left). */
  live: number;
}

/**
 * The caller's fair share of `shards` lanes among the live members `liveIds`: sorted by id, the
 * first `shards mod n` get ⌊shards/n⌋ + 1, the rest ⌊shards/n⌋. 0 when the caller is not live.
 */
export function fairShare(shards: number, liveIds: readonly string[], id: string): number {
  const sorted = [...liveIds].sort(compareIds);
  const position = sorted.indexOf(id);
  if (position < 0) return 0;
  const base = Math.floor(shards / sorted.length);
  return base + (position < shards % sorted.length ? 1 : 0);
}

/** Byte order, as Lua's `table.sort` compares strings (ids are ASCII). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One call of the lease script by `id` at Redis time `nowMs`: `leave` gives back every lane and the
 * membership (a graceful stop). Pure: returns the new table and what the caller holds.
 */
export function leaseStep(
  table: LeaseTable,
  id: string,
  nowMs: number,
  leaseMs: number,
  leave = false,
): LeaseOutcome {
  const members: Record<string, number> = {};
  for (const [member, until] of Object.entries(table.members)) {
    if (member !== id && until > nowMs) members[member] = until;
  }
  if (!leave) members[id] = nowMs + leaseMs;
  const live = Object.keys(members);
  const lanes = table.lanes.map((lane) =>
    // A lapsed lease, or a holder no longer alive: the lane is free (its token stays, for monotony).
    lane.holder !== '' &&
    (lane.leaseUntilMs <= nowMs || (lane.holder !== id && !(lane.holder in members)))
      ? { ...lane, holder: '', leaseUntilMs: 0 }
      : { ...lane },
  );
  const share = leave ? 0 : fairShare(lanes.length, live, id);
  const mine = lanes.flatMap((lane, index) => (lane.holder === id ? [index] : []));
  const released = mine.slice(share);
  for (const index of released) lanes[index] = { ...lanes[index], holder: '', leaseUntilMs: 0 };
  for (const index of mine.slice(0, share)) lanes[index].leaseUntilMs = nowMs + leaseMs;
  let fenceSeq = table.fenceSeq;
  const taken: number[] = [];
  for (
    let index = 0;
    index < lanes.length && mine.length - released.length + taken.length < share;
    index++
  ) {
    if (lanes[index].holder !== '') continue;
    fenceSeq += 1;
    lanes[index] = { holder: id, leaseUntilMs: nowMs + leaseMs, fence: fenceSeq };
    taken.push(index);
  }
  const held = lanes.flatMap((lane, index) =>
    lane.holder === id ? [{ lane: index, fence: lane.fence }] : [],
  );
  return { table: { members, lanes, fenceSeq }, held, taken, released, live: live.length };
}
