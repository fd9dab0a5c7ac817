import { laneStateKey } from '../lanes';
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
} as const;
