import { CorruptStateError } from '../corrupt-state-error';
import { PRODUCER_STATE_KEY } from '../keys';
import { PARTITION_RANGE } from '../partition-key';
import type { GeneratorState } from '../reading-generator';

/**
 * `producer_state`: the producer's run — its parameters, clock mapping, generator state and
 * watermark. This module owns the hash's field names (TypeScript and Lua use FIELDS), its parsing
 * and its serialisation; other services read its fields through it (the aggregator the watermark).
 */

export const KEY = PRODUCER_STATE_KEY;

export const FIELDS = {
  runId: 'run_id',
  startMs: 'start_ms',
  /** '' for a run that never ends. */
  endMs: 'end_ms',
  intervalMs: 'interval_ms',
  devices: 'devices',
  seed: 'seed',
  rate: 'rate',
  paced: 'paced',
  realStartMs: 'real_start_ms',
  /** Simulated Unix ms before which every reading of the run is written. */
  watermarkMs: 'watermark_ms',
  generator: 'generator',
  /** The id of the process that wrote the last batch (see SingleWriter). */
  writtenBy: 'written_by',
} as const;

export type Field = (typeof FIELDS)[keyof typeof FIELDS];

/** The fixed parameters of one producer run, saved so that a resumed run is the same run. */
export interface RunParams {
  runId: string;
  startMs: number;
  /** Exclusive end of the simulated time range; `null` for a run that never ends. */
  endMs: number | null;
  intervalMs: number;
  devices: number;
  seed: number;
  /** Simulated ms per real ms, and whether writing waits for the simulated clock ('max' does not). */
  rate: number;
  paced: boolean;
  /** Real Unix ms at which the run's first reading was mapped. */
  realStartMs: number;
}

/** A run as saved: its parameters plus how far it got. */
export interface Run extends RunParams {
  watermarkMs: number;
  generator: GeneratorState;
}

/** The hash's fields for `run` (without `written_by`, which the writer adds). */
export function serialize(run: Run): Record<string, string> {
  return {
    [FIELDS.runId]: run.runId,
    [FIELDS.startMs]: String(run.startMs),
    [FIELDS.endMs]: run.endMs === null ? '' : String(run.endMs),
    [FIELDS.intervalMs]: String(run.intervalMs),
    [FIELDS.devices]: String(run.devices),
    [FIELDS.seed]: String(run.seed),
    [FIELDS.rate]: String(run.rate),
    [FIELDS.paced]: run.paced ? '1' : '0',
    [FIELDS.realStartMs]: String(run.realStartMs),
    [FIELDS.watermarkMs]: String(run.watermarkMs),
    [FIELDS.generator]: JSON.stringify(run.generator),
  };
}

/** The run in `hash` (HGETALL); CorruptStateError naming the field when it cannot be one. */
export function parse(hash: Record<string, string>): Run {
  const hint = 'start a new run without --resume.';
  const number = (field: Field): number => {
    const value = Number(hash[field]);
    if (hash[field] === undefined || hash[field] === '' || !Number.isFinite(value)) {
      throw new CorruptStateError(`${KEY}.${field} is missing or not a number; ${hint}`);
    }
    return value;
  };
  let generator: GeneratorState;
  try {
    generator = JSON.parse(hash[FIELDS.generator] ?? '');
    if (!Array.isArray(generator.rng) || !Array.isArray(generator.temps)) throw new Error();
  } catch {
    throw new CorruptStateError(`${KEY}.${FIELDS.generator} is missing or corrupted; ${hint}`);
  }
  if (!hash[FIELDS.runId])
    throw new CorruptStateError(`${KEY}.${FIELDS.runId} is missing; ${hint}`);
  const run: Run = {
    runId: hash[FIELDS.runId],
    startMs: number(FIELDS.startMs),
    endMs: hash[FIELDS.endMs] === '' ? null : number(FIELDS.endMs),
    intervalMs: number(FIELDS.intervalMs),
    devices: number(FIELDS.devices),
    seed: number(FIELDS.seed),
    rate: number(FIELDS.rate),
    paced: hash[FIELDS.paced] === '1',
    realStartMs: number(FIELDS.realStartMs),
    watermarkMs: number(FIELDS.watermarkMs),
    generator,
  };
  // A run outside the days partitions can hold was not written by this producer.
  const inRange = (ms: number) => ms >= PARTITION_RANGE.startMs && ms <= PARTITION_RANGE.endMs;
  if (
    !inRange(run.startMs) ||
    !inRange(run.watermarkMs) ||
    (run.endMs !== null && !inRange(run.endMs))
  ) {
    throw new CorruptStateError(`${KEY} holds a run outside 1970-01-01 … 9999-12-31; ${hint}`);
  }
  if (generator.temps.length !== run.devices) {
    throw new CorruptStateError(
      `${KEY}.${FIELDS.generator} does not match its device count; ${hint}`,
    );
  }
  return run;
}

/**
 * The watermark as another service reads it (HGET of FIELDS.watermarkMs): null when no producer
 * has run or the field is not a number.
 */
export function parseWatermark(raw: string | null | undefined): number | null {
  const value = Number(raw);
  return raw === null || raw === undefined || raw === '' || !Number.isFinite(value) ? null : value;
}
