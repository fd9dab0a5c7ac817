import {
  EMPTY_WINDOW,
  afterFold,
  leaveMark,
  type AggregatorState,
  type FoldStep,
} from '@temps/streams';
import type { AggregatorRepository } from './aggregator.repository';
import { FoldReader, type FoldSource } from './fold-reader';

/**
 * The steps one partition's turn shares, whether the aggregator reads one partition a day or one
 * per lane: fold the backlog in order, and find the early and late entries to count. The caller
 * owns the state and the commits.
 */

/** How often an idle aggregator looks for entries written into partitions it has left (ms). */
export const LEFT_CHECK_EVERY_MS = 2_000;

/** What a backlog fold did. */
export interface Backlog {
  /** The last step decided (null: nothing was read). */
  last: FoldStep | null;
  /** The watermark the last fold ran with (Unix ms; null: none). */
  watermarkMs: number | null;
  /** How many steps were sent to be committed. */
  commits: number;
}

/**
 * Folds the partition of `from` in order while it has a backlog, at most until `deadline` (Unix
 * ms, by `now`). Each step that has something to commit is handed to `commit`, which sends it and
 * resolves once it is applied; steps are sent without waiting for the one before (on one connection
 * they run in order, and a step after a refused one is refused by the same guard). Rejects with the
 * first refused or failed commit, else with a failed read; `onStep` sees every step as decided.
 */
export async function foldBacklog(options: {
  from: AggregatorState;
  source: FoldSource;
  deadline: number;
  now: () => number;
  onStep: (step: FoldStep) => void;
  commit: (step: FoldStep) => Promise<void>;
}): Promise<Backlog> {
  const { source, deadline, now, onStep, commit } = options;
  let state = options.from;
  const reader = new FoldReader(source, state);
  const commits: Promise<void>[] = [];
  let last: FoldStep | null = null;
  let watermarkMs: number | null = null;
  let readFailure: unknown = null;
  try {
    for (let read = await reader.next(); read; read = await reader.next()) {
      last = afterFold(state, read.fold, read.watermarkMs, read.fresh);
      watermarkMs = read.watermarkMs;
      onStep(last);
      if (last.commit) {
        const done = commit(last);
        done.catch(() => undefined); // settled in order below
        commits.push(done);
        state = last.to;
      }
      if (last.outcome === 'folding' && now() >= deadline) break; // on after the next read
    }
  } catch (error) {
    readFailure = error;
  }
  await reader.close();
  const failed = (await Promise.allSettled(commits)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  if (readFailure) throw readFailure;
  return { last, watermarkMs, commits: commits.length };
}

/**
 * The next day's partition has entries while `from`'s day is not finished: all of them are ahead of
 * the watermark (a clock running ahead). The state counting the new ones (null: none new).
 */
export async function earlyInNext(
  from: AggregatorState,
  next: string,
  fold: (state: AggregatorState) => ReturnType<FoldSource>,
): Promise<{ to: AggregatorState; firstId: string; count: number } | null> {
  const ahead = { ...from, streamKey: next, lastId: '0', window: EMPTY_WINDOW };
  const early = (await fold(ahead)).fold;
  if (early.consumed > 0 || !early.early || early.early.uncounted === 0) return null;
  return {
    to: { ...from, earlyThrough: early.early.through },
    firstId: early.early.firstId,
    count: early.early.uncounted,
  };
}

/**
 * Entries written into partitions `from` has left (those still in `existing`) can no longer count:
 * the state with its marks moved past them, and how many per partition (null: none).
 */
export async function lateInLeft(
  from: AggregatorState,
  existing: readonly string[],
  repository: Pick<AggregatorRepository, 'lateInLeft'>,
  bound: number,
): Promise<{ to: AggregatorState; late: Map<string, number> } | null> {
  const { late, marks } = await repository.lateInLeft(from.left ?? {}, existing, bound);
  if (late.size === 0) return null;
  return { to: { ...from, left: leaveMark(from.left, marks) }, late };
}
