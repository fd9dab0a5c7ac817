import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { ThrottledLogger } from '@temps/common';
import type { Lane } from '@temps/streams';
import type { LanesRepository } from './lanes.repository';
import type { ProducerMetrics } from './producer.metrics';

/** How long one WAIT may hold its master's connection (ms): lane batches queue behind it. */
export const WAIT_TIMEOUT_MS = 100;
/** After a WAIT that came back short (a replica down or behind), the next one waits this long (ms). */
const SHORT_RETRY_MS = 250;

interface Written {
  lane: Lane;
  token: string;
  /** The lane's watermark after its newest batch acknowledged (simulated Unix ms). */
  watermarkMs: number;
}

/**
 * Confirms lane batches with replicas (REDIS_WAIT_REPLICAS): batches acknowledged by their master
 * are grouped by the connection that took them, and one `WAIT n` per master and round confirms them
 * all; then each lane's `confirmed_ms` moves up to the watermark the round vouches for. The
 * aggregator reads a lane only below that mark, so a master's death never loses a reading it has
 * aggregated: its promoted replica holds every confirmed one, and the producer rewrites the rest
 * from the lane state the replica holds. Rounds follow one another as fast as WAIT answers, so a
 * round covers every batch acknowledged while the previous one waited (one WAIT per batch would
 * cost 2-3 times the throughput).
 */
export class ReplicaConfirmer {
  private readonly logger = new Logger('Producer');
  private readonly shortLog = new ThrottledLogger(this.logger);
  private pending = new Map<number, Written>();
  /** Each lane's mark as last moved by this producer (simulated Unix ms). */
  private readonly confirmed = new Map<number, number>();
  private woken: (() => void) | null = null;
  private stopped = false;
  /** A round (WAIT, then the marks) is in flight. */
  private inRound = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly lanes: LanesRepository,
    private readonly metrics: ProducerMetrics,
    private readonly replicas: number,
  ) {
    this.loop = this.run();
  }

  /** Lane `lane` starts being written by `token` from `watermarkMs`: its first mark, if none. */
  async started(lane: Lane, token: string, watermarkMs: number): Promise<void> {
    await this.lanes.confirmLane(lane.tag, token, watermarkMs, true);
    this.confirmed.set(lane.index, watermarkMs);
  }

  /** A batch of `lane` was acknowledged by its master: the lane is written up to `watermarkMs`. */
  written(lane: Lane, token: string, watermarkMs: number): void {
    this.pending.set(lane.index, { lane, token, watermarkMs });
    this.showLag(lane);
    this.woken?.();
  }

  /** Lane `lane` is no longer this producer's: nothing of it is confirmed any more. */
  forget(lane: Lane): void {
    this.pending.delete(lane.index);
    this.confirmed.delete(lane.index);
    this.metrics.unconfirmed.remove({ lane: lane.tag });
  }

  private showLag({ index, tag }: Lane): void {
    const mark = this.confirmed.get(index);
    const newest = this.pending.get(index)?.watermarkMs ?? mark;
    if (mark !== undefined && newest !== undefined) {
      this.metrics.unconfirmed.set({ lane: tag }, (newest - mark) / 1000);
    }
  }

  /**
   * Confirms what is pending (rounds that fall short are tried again) for at most `withinMs`, then
   * stops; what is still unconfirmed then stays unread until another producer confirms the lane.
   */
  async close(withinMs = 10_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    while ((this.pending.size > 0 || this.inRound) && Date.now() < deadline) await sleep(20);
    this.stopped = true;
    this.woken?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.pending.size === 0) {
        await new Promise<void>((resolve) => (this.woken = resolve));
        this.woken = null;
        continue;
      }
      this.inRound = true;
      const round = this.pending;
      this.pending = new Map();
      const byNode = new Map<string, Written[]>();
      for (const written of round.values()) {
        const node = this.lanes.nodeOf(written.lane.tag);
        byNode.set(node, [...(byNode.get(node) ?? []), written]);
      }
      const short = await Promise.all(
        [...byNode].map(([node, group]) => this.confirm(node, group)),
      );
      if (short.some(Boolean)) await sleep(SHORT_RETRY_MS);
      this.inRound = false;
    }
  }

  /**
   * One WAIT on the group's master (`node`, host:port), then the group's marks; resolves to whether
   * it fell short.
   */
  private async confirm(node: string, group: Written[]): Promise<boolean> {
    const tag = group[0].lane.tag;
    // Each master's series exists at 0 from its first round, so the first short one is an increase.
    this.metrics.replicaShortfalls.inc({ node }, 0);
    const acked = await this.lanes
      .waitForReplicas(tag, this.replicas, WAIT_TIMEOUT_MS)
      .catch(() => 0);
    if (acked < this.replicas) {
      this.metrics.replicaShortfalls.inc({ node });
      this.shortLog.warn(
        `${acked} of ${this.replicas} replicas acknowledged the writes of lane ${tag}'s master; readings stay unconfirmed (not aggregated) until they do.`,
        'wait',
      );
      group.forEach((written) => this.retry(written));
      return true;
    }
    await Promise.all(
      group.map(async (written) => {
        try {
          await this.lanes.confirmLane(written.lane.tag, written.token, written.watermarkMs);
          this.confirmed.set(written.lane.index, written.watermarkMs);
          this.showLag(written.lane);
        } catch {
          this.retry(written);
        }
      }),
    );
    return false;
  }

  /** Back into the next round, unless a newer batch of the lane is there already. */
  private retry(written: Written): void {
    if (!this.pending.has(written.lane.index)) this.pending.set(written.lane.index, written);
  }
}
