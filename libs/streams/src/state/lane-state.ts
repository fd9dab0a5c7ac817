import { CorruptStateError } from '../corrupt-state-error';
import { laneStateKey } from '../lanes';
import { PARTITION_RANGE } from '../partition-key';
import type { GeneratorState } from '../reading-generator';
import { FIELDS as RUN_FIELDS } from './producer-state';

/**
 * `producer_state:{t_L}`: one lane's position in a lanes run — the run it belongs to, its watermark,
 * its generator state, who wrote the last batch, and the fencing token a batch must carry. Same field
 * names as `producer_state` where they mean the same thing, so the aggregator reads a lane's
 * watermark as it reads the single producer's.
 */

export const keyOf = laneStateKey;

export const FIELDS = {
  runId: RUN_FIELDS.runId,
  /** Simulated Unix ms before which every reading of the lane is written. */
  watermarkMs: RUN_FIELDS.watermarkMs,
  generator: RUN_FIELDS.generator,
  writtenBy: RUN_FIELDS.writtenBy,
  /** The fencing token of the lane's holder: a batch carrying a lower one is refused. */
  fence: 'fence',
  /**
   * With REDIS_WAIT_REPLICAS: simulated Unix ms before which the lane's readings are held by that
   * many replicas (WAIT). Absent: not confirmed by replicas, read up to the watermark.
   */
  confirmedMs: 'confirmed_ms',
} as const;

/**
 * How far a reader may take the lane as complete (Unix ms; null: no position yet): its watermark, or
 * the confirmed mark where the producer confirms with replicas and it is lower, so no reading a
 * failover could still lose is ever aggregated. `watermark` and `confirmed` are the fields' raw text.
 */
export function readableUntil(
  watermark: string | null | undefined,
  confirmed: string | null | undefined,
): number | null {
  const mark = parseMs(watermark);
  const held = parseMs(confirmed);
  return mark === null || held === null ? mark : Math.min(mark, held);
}

function parseMs(raw: string | null | undefined): number | null {
  const value = Number(raw);
  return raw === null || raw === undefined || raw === '' || !Number.isFinite(value) ? null : value;
}

/** A lane's position as saved. */
export interface LaneState {
  runId: string;
  /** Simulated Unix ms before which every reading of the lane is written. */
  watermarkMs: number;
  /** The lane's reading generator, to continue from `watermarkMs` (its devices only). */
  generator: GeneratorState;
  /** The producer id that wrote the last batch (or took the lane last). */
  writtenBy: string;
  /** The holder's fencing token (0: never taken). */
  fence: number;
}

export function serialize(state: LaneState): Record<string, string> {
  return {
    [FIELDS.runId]: state.runId,
    [FIELDS.watermarkMs]: String(state.watermarkMs),
    [FIELDS.generator]: JSON.stringify(state.generator),
    [FIELDS.writtenBy]: state.writtenBy,
    [FIELDS.fence]: String(state.fence),
  };
}

/**
 * The lane state in `hash` (HGETALL of `key`), for a lane of `devices` devices; CorruptStateError
 * naming the field when it cannot be one.
 */
export function parse(key: string, hash: Record<string, string>, devices: number): LaneState {
  const hint = 'start a new run without --resume.';
  const number = (field: string): number => {
    const value = Number(hash[field]);
    if (hash[field] === undefined || hash[field] === '' || !Number.isFinite(value)) {
      throw new CorruptStateError(`${key}.${field} is missing or not a number; ${hint}`);
    }
    return value;
  };
  if (!hash[FIELDS.runId])
    throw new CorruptStateError(`${key}.${FIELDS.runId} is missing; ${hint}`);
  let generator: GeneratorState;
  try {
    generator = JSON.parse(hash[FIELDS.generator] ?? '');
    if (!Array.isArray(generator.rng) || !Array.isArray(generator.temps)) throw new Error();
  } catch {
    throw new CorruptStateError(`${key}.${FIELDS.generator} is missing or corrupted; ${hint}`);
  }
  if (generator.temps.length !== devices) {
    throw new CorruptStateError(
      `${key}.${FIELDS.generator} does not match the lane's ${devices} devices; ${hint}`,
    );
  }
  const watermarkMs = number(FIELDS.watermarkMs);
  if (watermarkMs < PARTITION_RANGE.startMs || watermarkMs > PARTITION_RANGE.endMs) {
    throw new CorruptStateError(
      `${key}.${FIELDS.watermarkMs} is outside 1970-01-01 … 9999-12-31; ${hint}`,
    );
  }
  return {
    runId: hash[FIELDS.runId],
    watermarkMs,
    generator,
    writtenBy: hash[FIELDS.writtenBy] ?? '',
    fence: number(FIELDS.fence),
  };
}
