import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  CorruptStateError,
  defineScripts,
  keyTypes,
  scanPartitions,
  withTypedErrors,
} from '@temps/redis';
import {
  PARTITION_RANGE,
  PRODUCER_STATE_KEY,
  deviceName,
  partitionDayStart,
  type GeneratorState,
} from '@temps/streams';
import type { RunParams } from './run-plan';
import { WRITE_BATCH } from './scripts/write-batch.lua';

/** A run as saved in Redis: its parameters plus how far it got. */
export interface SavedRun extends RunParams {
  watermarkMs: number;
  generator: GeneratorState;
}

export interface Batch {
  partition: string;
  firstMs: number;
  temps: number[];
  expireAtMs: number;
  watermarkMs: number;
  generator: GeneratorState;
}

/** All of the producer's Redis access: its state hash and the partitions it writes. */
@Injectable()
export class ProducerRepository {
  /** Saved as `written_by` with every batch: tells this process's batches from another's. */
  readonly instanceId = randomUUID();

  constructor(@Inject(Redis) private readonly redis: Redis) {
    defineScripts(redis, WRITE_BATCH);
  }

  /** The saved run's progress and whether this process wrote its last batch (null: no run). */
  async progress(): Promise<{ runId: string; watermarkMs: string; mine: boolean } | null> {
    const [runId, watermarkMs, writtenBy] = await this.redis.hmget(
      PRODUCER_STATE_KEY,
      'run_id',
      'watermark_ms',
      'written_by',
    );
    if (runId === null) return null;
    return { runId, watermarkMs: watermarkMs ?? '', mine: writtenBy === this.instanceId };
  }

  /** Redis's memory use and limit in bytes (limit 0: none), from INFO memory. */
  async memory(): Promise<{ usedBytes: number; maxBytes: number }> {
    const info = await this.redis.info('memory');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { usedBytes: field('used_memory'), maxBytes: field('maxmemory') };
  }

  async loadRun(): Promise<SavedRun | null> {
    const hash = await this.redis.hgetall(PRODUCER_STATE_KEY);
    if (Object.keys(hash).length === 0) return null;
    return parseSavedRun(hash);
  }

  /** Existing partitions for days at or after `fromMs`, oldest first. */
  async partitionsFrom(fromMs: number): Promise<string[]> {
    return (await scanPartitions(this.redis)).filter((key) => partitionDayStart(key)! >= fromMs);
  }

  /** Keys among `keys` that exist with a type other than stream (someone else's data). */
  async foreignKeys(keys: string[]): Promise<{ key: string; type: string }[]> {
    const types = await keyTypes(this.redis, keys);
    return keys
      .map((key, i) => ({ key, type: types[i] }))
      .filter(({ type }) => type !== 'none' && type !== 'stream');
  }

  /** Deletes the partitions a new run will write and saves the run, in one transaction. */
  async startRun(partitions: string[], run: SavedRun): Promise<void> {
    const tx = this.redis.multi();
    if (partitions.length > 0) tx.del(...partitions);
    tx.del(PRODUCER_STATE_KEY);
    tx.hset(PRODUCER_STATE_KEY, { ...serializeSavedRun(run), written_by: this.instanceId });
    await tx.exec();
  }

  /**
   * Writes a batch and advances the saved position atomically; resolves to the readings written.
   * A refusal writes nothing and rejects with its typed error: StateGoneError, StaleRunError,
   * PositionMismatchError, ForeignKeyError or ForeignEntryError; a full Redis with
   * RedisOutOfMemoryError.
   */
  async writeBatch(run: RunParams, batch: Batch): Promise<number> {
    const names =
      run.devices > 1 ? Array.from({ length: run.devices }, (_, i) => deviceName(i)) : [];
    return withTypedErrors(
      this.redis.writeBatch(
        batch.partition,
        PRODUCER_STATE_KEY,
        run.runId,
        batch.firstMs,
        run.intervalMs,
        run.devices,
        batch.expireAtMs,
        batch.watermarkMs,
        JSON.stringify(batch.generator),
        this.instanceId,
        ...names,
        ...batch.temps,
      ),
    );
  }
}

function serializeSavedRun(run: SavedRun): Record<string, string> {
  return {
    run_id: run.runId,
    start_ms: String(run.startMs),
    end_ms: run.endMs === null ? '' : String(run.endMs),
    interval_ms: String(run.intervalMs),
    devices: String(run.devices),
    seed: String(run.seed),
    rate: String(run.rate),
    paced: run.paced ? '1' : '0',
    real_start_ms: String(run.realStartMs),
    watermark_ms: String(run.watermarkMs),
    generator: JSON.stringify(run.generator),
  };
}

function parseSavedRun(hash: Record<string, string>): SavedRun {
  const number = (field: string): number => {
    const value = Number(hash[field]);
    if (hash[field] === undefined || hash[field] === '' || !Number.isFinite(value)) {
      throw new CorruptStateError(
        `${PRODUCER_STATE_KEY}.${field} is missing or not a number; start a new run without --resume.`,
      );
    }
    return value;
  };
  let generator: GeneratorState;
  try {
    generator = JSON.parse(hash.generator ?? '');
    if (!Array.isArray(generator.rng) || !Array.isArray(generator.temps)) throw new Error();
  } catch {
    throw new CorruptStateError(
      `${PRODUCER_STATE_KEY}.generator is missing or corrupted; start a new run without --resume.`,
    );
  }
  if (!hash.run_id)
    throw new CorruptStateError(
      `${PRODUCER_STATE_KEY}.run_id is missing; start a new run without --resume.`,
    );
  const run: SavedRun = {
    runId: hash.run_id,
    startMs: number('start_ms'),
    endMs: hash.end_ms === '' ? null : number('end_ms'),
    intervalMs: number('interval_ms'),
    devices: number('devices'),
    seed: number('seed'),
    rate: number('rate'),
    paced: hash.paced === '1',
    realStartMs: number('real_start_ms'),
    watermarkMs: number('watermark_ms'),
    generator,
  };
  // A run outside the days partitions can hold was not written by this producer.
  const inRange = (ms: number) => ms >= PARTITION_RANGE.startMs && ms <= PARTITION_RANGE.endMs;
  if (
    !inRange(run.startMs) ||
    !inRange(run.watermarkMs) ||
    (run.endMs !== null && !inRange(run.endMs))
  ) {
    throw new CorruptStateError(
      `${PRODUCER_STATE_KEY} holds a run outside 1970-01-01 … 9999-12-31; start a new run without --resume.`,
    );
  }
  if (generator.temps.length !== run.devices) {
    throw new CorruptStateError(
      `${PRODUCER_STATE_KEY}.generator does not match its device count; start a new run without --resume.`,
    );
  }
  return run;
}
