import { ThrottledLogger, type LineSink } from '@temps/common';
import { ReplyError } from 'ioredis';

/**
 * Error replies by which Redis refuses a command for a while and then accepts it again by itself:
 * nothing of the refused command was applied (Redis refuses before it executes; a script is
 * refused at its first write, and every script here checks before it writes), so the same command
 * sent again later is safe. Why each clears by itself:
 */
export enum TransientCode {
  /**
   * Persistence is failing (a full disk, a folder it cannot write: a failed BGSAVE with
   * `stop-writes-on-bgsave-error yes`, or AOF writes failing). Redis refuses writes, and PING, until
   * a save succeeds again — it retries the save by itself, so freeing the disk ends it.
   */
  Misconf = 'MISCONF',
  /**
   * Another client's script or function has run past `busy-reply-threshold`; every other command is
   * refused until it ends or is killed (SCRIPT KILL). Scripts end: it clears.
   */
  Busy = 'BUSY',
  /**
   * The server is a replica now: a failover (Sentinel, FAILOVER, REPLICAOF) in progress. It clears
   * when this server is promoted back, or when whoever routes the address points it at the new
   * master; meanwhile /health says why, so a person can see a failover that does not end.
   */
  ReadOnly = 'READONLY',
  /** Redis is loading its data set after a restart (RDB/AOF): it clears once loaded. */
  Loading = 'LOADING',
  /**
   * A replica with `replica-serve-stale-data no` whose link to its master is down: it clears when
   * the link is back.
   */
  MasterDown = 'MASTERDOWN',
  /** Redis Cluster: the keys of a multi-key command are being moved (resharding): it clears when moved. */
  TryAgain = 'TRYAGAIN',
  /** Redis Cluster: slots are not served (a failover in progress): it clears when one is elected. */
  ClusterDown = 'CLUSTERDOWN',
  /**
   * `min-replicas-to-write` is not met (replicas lagging or reconnecting): it clears when they
   * are back in sync.
   */
  NoReplicas = 'NOREPLICAS',
  /**
   * A blocking read (XREAD BLOCK) ended by the server because its role changed (it became a
   * replica): reading again is all it takes.
   */
  Unblocked = 'UNBLOCKED',
  /**
   * Not a reply: Redis did not answer within the command's deadline (COMMAND_TIMEOUT_MS: a paused,
   * frozen or overloaded server, a stalled proxy). It clears when Redis answers again. Unlike the
   * refusals above, the command may still be applied later: every write here is guarded, so
   * sending it again is refused if it was, and the caller goes on from what Redis holds.
   */
  Timeout = 'TIMEOUT',
  /**
   * Not a reply: the cluster client stopped following a slot's redirections (MOVED, ASK,
   * CLUSTERDOWN, TRYAGAIN, a dead node's connection) after its retries, or reached no node to learn
   * the slots from: a failover or a reshard takes longer than usual. It clears when the cluster
   * settles; nothing was applied by the refused attempt, or a guarded write refuses it next time.
   */
  Unsettled = 'UNSETTLED',
}

/** What each transient refusal means, for /health and the log (the reply's own text follows it). */
const MEANING: Record<TransientCode, string> = {
  [TransientCode.Misconf]: 'Redis refuses writes: it cannot persist to disk',
  [TransientCode.Busy]: "Redis is busy running another client's script",
  [TransientCode.ReadOnly]: 'Redis refuses writes: it is a read-only replica (a failover?)',
  [TransientCode.Loading]: 'Redis is loading its data set',
  [TransientCode.MasterDown]: 'Redis is a replica that lost its master',
  [TransientCode.TryAgain]: 'Redis Cluster is moving the keys',
  [TransientCode.ClusterDown]: 'Redis Cluster is down',
  [TransientCode.NoReplicas]: 'Redis refuses writes: too few replicas in sync',
  [TransientCode.Unblocked]: 'Redis ended a blocking read (its role changed)',
  [TransientCode.Timeout]: 'Redis did not answer in time',
  [TransientCode.Unsettled]: 'Redis Cluster is failing over or moving slots',
};

/** ioredis Cluster's own errors when it gives up following a slot for now. */
const UNSETTLED = /^(Too many Cluster redirections|Failed to refresh slots cache)/;

/** ioredis's own error when a command's `commandTimeout` passes. */
const TIMED_OUT = 'Command timed out';

const TRANSIENT = new Set<string>(Object.values(TransientCode));

/** What Redis 7 appends to an error reply raised inside a script: not part of the refusal. */
const IN_SCRIPT = / script: [0-9a-f]{40}, on @\w+:\d+\.$/;

/**
 * Redis refused for a while (TransientCode): retry the same command with back-off; it clears by
 * itself. `reason` is one line for /health and the log.
 */
export class RedisTransientError extends Error {
  override name = 'RedisTransientError';
  readonly code: TransientCode;
  readonly reason: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = message.split(' ', 1)[0] as TransientCode;
    const reply = message.replace(IN_SCRIPT, '');
    const firstSentence = /^.*?\.(?=\s|$)/.exec(reply)?.[0] ?? reply;
    this.reason = `${MEANING[this.code] ?? 'Redis refused for a while'} (${firstSentence})`;
  }
}

/** Whether an error reply's leading code word is a transient refusal. */
export function isTransientCode(code: string): code is TransientCode {
  return TRANSIENT.has(code);
}

/**
 * The transient refusal behind `error` (itself, a reply with a transient code, one in its `cause`
 * chain, or the refusal that made a MULTI fail with EXECABORT), as a RedisTransientError; null if
 * there is none.
 */
export function transientCause(error: unknown): RedisTransientError | null {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    if (e instanceof RedisTransientError) return e;
    if (e instanceof Error && !(e instanceof ReplyError) && e.message === TIMED_OUT) {
      return new RedisTransientError(`${TransientCode.Timeout} ${TIMED_OUT}.`, { cause: e });
    }
    if (e instanceof Error && !(e instanceof ReplyError) && UNSETTLED.test(e.message)) {
      const first = e.message.split('. ', 1)[0].replace(/\.$/, '');
      return new RedisTransientError(`${TransientCode.Unsettled} ${first}.`, { cause: e });
    }
    if (e instanceof ReplyError) {
      const { message } = e as Error;
      const code = message.split(' ', 1)[0];
      if (isTransientCode(code)) return new RedisTransientError(message, { cause: e });
      // A transaction whose queued write was refused: ioredis keeps the refusals.
      const previous = (e as { previousErrors?: unknown[] }).previousErrors ?? [];
      for (const p of previous) {
        const found = transientCause(p);
        if (found) return found;
      }
    }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

export interface TransientRetryOptions {
  /** The first wait after a refusal (ms); doubled after each, up to `maxMs`. */
  firstMs?: number;
  maxMs?: number;
  now?: () => number;
}

/**
 * A loop's view of a transient refusal while it lasts: one line when it begins (then at most one
 * per 30 s per code), the wait before the next attempt (1 s doubling to 10 s), and one line when
 * an attempt goes through again. The loop reports the reason to /health itself.
 */
export class TransientRetry {
  private since: number | null = null;
  private nextMs: number;
  private readonly lines: ThrottledLogger;
  private readonly firstMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(
    private readonly sink: LineSink,
    { firstMs = 1_000, maxMs = 10_000, now = Date.now }: TransientRetryOptions = {},
  ) {
    this.firstMs = firstMs;
    this.maxMs = maxMs;
    this.now = now;
    this.nextMs = firstMs;
    this.lines = new ThrottledLogger(sink, 30_000, now);
  }

  /** Whether a refusal is on (since the first `refused()`, until `succeeded()`). */
  get active(): boolean {
    return this.since !== null;
  }

  /** Another refusal: says so (throttled), and returns how long to wait before trying again (ms). */
  refused(error: RedisTransientError): number {
    this.since ??= this.now();
    this.lines.warn(`${error.reason}; retrying with back-off until it clears.`, error.code);
    const wait = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return wait;
  }

  /** An attempt went through: if a refusal was on, one line that it cleared; the back-off starts over. */
  succeeded(): void {
    if (this.since === null) return;
    const seconds = ((this.now() - this.since) / 1000).toFixed(1);
    this.sink.log(`Redis accepts the work again after ${seconds} s of refusals; going on.`);
    this.since = null;
    this.nextMs = this.firstMs;
    this.lines.reset();
  }
}
