import { setTimeout as sleep } from 'node:timers/promises';
import { slotOf } from '@temps/streams';
import { Redis, type Cluster } from 'ioredis';
import { COMMAND_TIMEOUT_MS } from './redis-client';
import type { StreamCursor } from './redis-streams.server';

interface SlotRead {
  connection: Redis;
  /** The blocking read in flight on it (resolves to whether it saw entries), or null. */
  inFlight: Promise<boolean> | null;
}

/**
 * Waits for new entries in streams of different slots of a Redis Cluster, where one XREAD cannot
 * name them all (CROSSSLOT). Each slot gets its own connection to the master serving it, with its
 * own blocking XREAD; `wait` resolves as soon as one of them sees entries, or when all have waited
 * their block time. A read still blocked stays in flight and serves the next wait. It only wakes
 * the consumer, which reads through the cluster client itself: a read that fails (MOVED after a
 * reshard, a failover) drops its connection and counts as a wake-up, and the next wait connects to
 * whoever serves the slot then.
 */
export class SlotWaker {
  private readonly reads = new Map<number, SlotRead>();

  constructor(
    private readonly cluster: Cluster,
    private readonly blockMs: number,
  ) {}

  /** Resolves when any stream of `cursor` has entries after its ID, or after about blockMs. */
  async wait(cursor: StreamCursor): Promise<void> {
    const bySlot = new Map<number, StreamCursor>();
    for (const entry of cursor) {
      const slot = slotOf(entry[0]);
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), entry]);
    }
    const pending = [...bySlot].map(([slot, entries]) => this.read(slot, entries));
    await new Promise<void>((resolve) => {
      let left = pending.length;
      for (const read of pending) {
        void read.then((saw) => (saw || --left === 0 ? resolve() : undefined));
      }
    });
  }

  close(): void {
    for (const { connection } of this.reads.values()) connection.disconnect();
    this.reads.clear();
  }

  private read(slot: number, entries: StreamCursor): Promise<boolean> {
    const read = this.reads.get(slot) ?? this.connect(slot);
    if (!read) return sleep(this.blockMs).then(() => true);
    read.inFlight ??= read.connection
      .xread(
        'COUNT',
        1,
        'BLOCK',
        this.blockMs,
        'STREAMS',
        ...entries.map(([key]) => key),
        ...entries.map(([, id]) => id),
      )
      .then(
        (reply) => reply !== null,
        async () => {
          read.connection.disconnect();
          this.reads.delete(slot);
          await sleep(100);
          return true;
        },
      )
      .finally(() => (read.inFlight = null));
    return read.inFlight;
  }

  /** A connection to the master serving `slot` now (null while the cluster client knows none). */
  private connect(slot: number): SlotRead | null {
    const owner = this.cluster.slots[slot]?.[0];
    if (!owner) return null;
    const at = owner.lastIndexOf(':');
    const connection = new Redis({
      ...this.cluster.options.redisOptions,
      host: owner.slice(0, at),
      port: Number(owner.slice(at + 1)),
      connectionName: `${this.cluster.options.redisOptions?.connectionName ?? 'temps'}-wait`,
      // A blocking read waits up to its block time before any answer: that on top of the deadline.
      commandTimeout: this.blockMs + COMMAND_TIMEOUT_MS,
      // A failed connection is dropped and made again by the next wait, to the slot's owner then.
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    connection.on('error', () => undefined); // a failed read wakes the consumer, which sees why
    const read: SlotRead = { connection, inFlight: null };
    this.reads.set(slot, read);
    return read;
  }
}
