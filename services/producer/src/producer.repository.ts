import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  defineScripts,
  keyTypes,
  scanPartitions,
  withTypedErrors,
  REDIS_CLIENT,
  type RedisClient,
} from '@temps/redis';
import {
  ProducerStateHash,
  deviceName,
  partitionDayStart,
  type GeneratorState,
} from '@temps/streams';
import type { RunParams } from './run-plan';
import { WRITE_BATCH, WRITE_BATCH_GUARD } from './scripts/write-batch.lua';

const { KEY, FIELDS } = ProducerStateHash;

/** A run as saved in Redis: its parameters plus how far it got (ProducerStateHash owns the hash). */
export type SavedRun = ProducerStateHash.Run;

/** The saved run's progress (null: no run). */
export interface Progress {
  runId: string;
  watermarkMs: string;
  /** Whether this process wrote the last batch. */
  mine: boolean;
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

  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    defineScripts(redis, WRITE_BATCH);
  }

  /** The saved run's progress and whether this process wrote its last batch (null: no run). */
  async progress(): Promise<Progress | null> {
    const [runId, watermarkMs, writtenBy] = await this.redis.hmget(
      KEY,
      FIELDS.runId,
      FIELDS.watermarkMs,
      FIELDS.writtenBy,
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
    const hash = await this.redis.hgetall(KEY);
    if (Object.keys(hash).length === 0) return null;
    return ProducerStateHash.parse(hash);
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
    tx.del(KEY);
    tx.hset(KEY, { ...ProducerStateHash.serialize(run), [FIELDS.writtenBy]: this.instanceId });
    await tx.exec();
  }

  /**
   * Writes a batch and advances the saved position atomically; resolves to the readings written.
   * A refusal writes nothing and rejects with its typed error: StateGoneError, StaleStateError (the
   * saved run or position is not `run` at `batch.firstMs`), ForeignKeyError or ForeignEntryError; a
   * full Redis with RedisOutOfMemoryError.
   */
  async writeBatch(run: RunParams, batch: Batch): Promise<number> {
    const names =
      run.devices > 1 ? Array.from({ length: run.devices }, (_, i) => deviceName(i)) : [];
    return withTypedErrors(
      this.redis.writeBatch(
        batch.partition,
        KEY,
        ...WRITE_BATCH_GUARD.argv({
          [FIELDS.runId]: run.runId,
          [FIELDS.watermarkMs]: batch.firstMs,
        }),
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
