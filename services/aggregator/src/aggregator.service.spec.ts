import { StaleStateError, StateGoneError } from '@temps/redis';
import { ConsoleOutput } from '@temps/runtime';
import {
  DAY_MS,
  EMPTY_WINDOW,
  HOUR_MS,
  closeThrough,
  decodeTemp,
  entryIdMs,
  foldEntries,
  foldPartition,
  initialState,
  partitionDayStart,
  type AggregatorState,
  type FoldRange,
  type HourlyAverage,
  type WindowEntry,
} from '@temps/streams';
import type { RawEntry } from '@temps/testing';
import { Registry } from 'prom-client';
import type { AggregatorConfig } from './aggregator-config';
import { AggregatorMetrics } from './aggregator.metrics';
import { AggregatorReporter } from './aggregator.reporter';
import type { AggregatorRepository, FoldRead } from './aggregator.repository';
import { AggregatorPosition, StateLostError } from './aggregator-position';
import { AggregatorService } from './aggregator.service';

const DAY = Date.UTC(2025, 0, 1);
const ME = '00000000-0000-4000-8000-000000000001';

/**
 * Redis as the aggregator sees it, in memory: partitions, the producer's watermark, the saved
 * state with the commit's guard, and temps:averages. Folds use the fold script's specification.
 */
class FakeRepository implements Pick<
  AggregatorRepository,
  | 'instanceId'
  | 'load'
  | 'loadWithWriter'
  | 'reset'
  | 'initialize'
  | 'commit'
  | 'fold'
  | 'progress'
  | 'partitions'
  | 'lateInLeft'
  | 'readable'
> {
  readonly instanceId = ME;
  streams = new Map<string, RawEntry[]>();
  watermarkMs: number | null = null;
  saved: { state: AggregatorState; writer: string | null } | null = null;
  averages: HourlyAverage[] = [];
  folds = 0;

  async load() {
    return this.saved?.state ?? null;
  }
  async loadWithWriter() {
    return this.saved && { ...this.saved, mine: this.saved.writer === ME };
  }
  async reset(state: AggregatorState) {
    this.averages = [];
    this.saved = { state, writer: ME };
  }
  async initialize(state: AggregatorState) {
    if (this.saved) return false;
    this.saved = { state, writer: ME };
    return true;
  }
  /** Fails the next commit with this error (once), as a foreign entry or a lost connection would. */
  failNextCommit: Error | null = null;

  async commit(
    from: AggregatorState,
    to: AggregatorState,
    closed: readonly HourlyAverage[],
    writer: string | null,
  ) {
    const failure = this.failNextCommit;
    this.failNextCommit = null;
    if (failure) throw failure;
    const saved = this.saved?.state;
    if (!saved) throw new StateGoneError('STATE_GONE aggregating_consumer_state disappeared');
    const moved = saved.streamKey !== from.streamKey || saved.lastId !== from.lastId;
    if (moved || this.saved!.writer !== writer) {
      throw new StaleStateError('STALE_STATE aggregating_consumer_state moved on');
    }
    const newest = this.averages.at(-1)?.hourStartMs ?? -1;
    const added = closed.filter((hour) => hour.hourStartMs > newest);
    this.averages.push(...added);
    this.saved = { state: to, writer: ME };
    return { added: added.length, watermarkMs: this.watermarkMs };
  }
  async fold(state: AggregatorState, range: FoldRange): Promise<FoldRead> {
    this.folds++;
    const input = {
      dayStartMs: partitionDayStart(state.streamKey)!,
      publishedUntilMs: state.publishedUntilMs,
      watermarkMs: this.watermarkMs,
      window: state.window,
      earlyThrough: state.earlyThrough ?? null,
    };
    const entries = this.streams.get(state.streamKey) ?? [];
    return { fold: foldPartition(input, entries, range, 100), watermarkMs: this.watermarkMs };
  }
  async watermark() {
    return this.watermarkMs;
  }

  async progress(key: string) {
    const entries = this.streams.get(key);
    return {
      watermarkMs: this.watermarkMs,
      exists: entries !== undefined,
      lastId: entries?.at(-1)?.[0] ?? null,
      saved: {
        streamKey: this.saved?.state.streamKey ?? null,
        lastId: this.saved?.state.lastId ?? null,
        writer: this.saved?.writer ?? null,
      },
    };
  }
  /** Runs once, right after the next look at the partitions (a producer writing meanwhile). */
  afterPartitions: (() => void) | null = null;

  async partitions() {
    const then = this.afterPartitions;
    this.afterPartitions = null;
    queueMicrotask(() => then?.());
    return [...this.streams]
      .filter(([, entries]) => entries.length > 0)
      .map(([key]) => key)
      .sort();
  }
  async lateInLeft() {
    return { late: new Map<string, number>(), marks: {} };
  }
  async readable(keys: string[]) {
    return keys.map(() => true);
  }

  /** One reading a minute for `days` days from 2025-01-01, decimals now and then. */
  write(days: number): void {
    for (let day = 0; day < days; day++) {
      const key = `temps:202501${String(day + 1).padStart(2, '0')}`;
      const entries: RawEntry[] = [];
      for (let minute = 0; minute < 24 * 60; minute++) {
        const temp = minute % 7 === 0 ? `${40 + (minute % 13)}.125` : String(50 + (minute % 9));
        entries.push([`${DAY + day * DAY_MS + minute * 60_000}-0`, ['temp_f', temp]]);
      }
      this.streams.set(key, entries);
    }
  }
}

class Lines extends ConsoleOutput {
  readonly lines: string[] = [];
  override line(text: string): void {
    this.lines.push(text);
  }
}

/** The aggregator with typed fakes and a clock that moves only when the test moves it. */
function newTestService(config: Partial<AggregatorConfig>, repository = new FakeRepository()) {
  const output = new Lines();
  const registry = new Registry();
  const clock = { ms: 0 };
  const metrics = new AggregatorMetrics(registry);
  const now = () => clock.ms;
  const fake = repository as unknown as AggregatorRepository;
  const reporter = new AggregatorReporter(metrics, output, now);
  const settings = {
    partition: null,
    fromOldest: false,
    shards: null,
    laneStallMs: 30_000,
    port: 0,
    redisUrl: '',
    ...config,
  };
  const position = new AggregatorPosition(settings, fake, reporter, now);
  const service = new AggregatorService(position, fake, reporter, now);
  const rejected = async (reason: string) =>
    (await metrics.readingsRejected.get()).values.find((v) => v.labels.reason === reason)?.value;
  const aggregated = async () => (await metrics.readingsAggregated.get()).values[0]?.value;
  return { service, repository, output, clock, rejected, aggregated };
}

/** Every reading of the partitions folded in one go: the hours the aggregator must publish. */
function expectedHours(repository: FakeRepository): HourlyAverage[] {
  const usable: WindowEntry[] = [...repository.streams.values()].flat().map(([id, fields]) => {
    const temp = decodeTemp(fields);
    const ms = entryIdMs(id);
    return typeof temp === 'number' ? { ms, temp } : { ms, rejected: temp };
  });
  const folded = foldEntries(EMPTY_WINDOW, usable);
  const { watermarkMs } = repository;
  return watermarkMs === null
    ? folded.closed
    : [...folded.closed, ...closeThrough(folded.state, watermarkMs).closed];
}

async function turns(service: AggregatorService, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await service.handle();
}

describe('AggregatorService (in-process, fake repository and clock)', () => {
  it('folds two days into their hourly averages, exactly, and changes partition with the seed lines', async () => {
    const { service, repository, output } = newTestService({ partition: 'temps:20250101' });
    repository.write(2);
    repository.watermarkMs = DAY + 2 * DAY_MS;
    await service.start();
    await turns(service, 6);
    expect(repository.averages).toEqual(expectedHours(repository));
    expect(repository.averages).toHaveLength(48);
    expect(repository.averages.at(-1)!.hourStartMs).toBe(DAY + 2 * DAY_MS - HOUR_MS);
    expect(output.lines).toEqual([
      'Starting aggregating consumer in stream temps:20250101 at message 0.',
      'Changing partition to consume stream: temps:20250102',
      'Waiting for new messages in stream temps:20250102, or new stream partition.',
    ]);
  });

  it('never skips a day written between its look at the partitions and at the watermark', async () => {
    const { service, repository, output } = newTestService({ partition: 'temps:20250101' });
    repository.write(2);
    const day2 = repository.streams.get('temps:20250102')!;
    repository.streams.delete('temps:20250102');
    repository.watermarkMs = DAY + DAY_MS;
    await service.start();
    await turns(service, 3);
    // Drained at the end of day 1: the producer writes all of day 2 right after the partitions
    // were listed. Taken as proof that day 2 is finished and absent, it would be skipped as empty.
    repository.afterPartitions = () => {
      repository.streams.set('temps:20250102', day2);
      repository.watermarkMs = DAY + 2 * DAY_MS;
    };
    await turns(service, 6);
    expect(output.lines).not.toContain(expect.stringContaining('Skipping'));
    expect(repository.averages).toEqual(expectedHours(repository));
    expect(repository.averages).toHaveLength(48);
  });

  it('without a watermark, waits in the last day with its last hour open (the exercise rule)', async () => {
    const { service, repository } = newTestService({ partition: 'temps:20250101' });
    repository.write(2);
    await service.start();
    await turns(service, 6);
    expect(repository.averages).toHaveLength(47);
    expect(repository.saved!.state.window.count).toBe(60);
  });

  it('refused because another aggregator wrote the state: stands by, then takes over once it has been quiet for 10 s', async () => {
    const { service, repository, clock } = newTestService({ partition: 'temps:20250101' });
    repository.write(1);
    repository.watermarkMs = DAY + DAY_MS;
    await service.start();
    const other: AggregatorState = { ...repository.saved!.state, lastId: `${DAY + 60_000}-0` };
    repository.saved = { state: other, writer: 'another-aggregator' };
    await service.handle(); // its commit is refused: standby
    expect(await service.cursor()).toEqual([]);
    const folds = repository.folds;
    clock.ms += 9_999;
    await turns(service, 2);
    expect(repository.folds).toBe(folds); // still waiting: reads nothing
    clock.ms += 1;
    await turns(service, 3);
    expect(repository.saved!.writer).toBe(ME);
    expect(repository.averages).toHaveLength(24); // from the other one's position on: nothing lost
  });

  it('counts an early reading once, also across a restart (early_through is saved with the state)', async () => {
    const first = newTestService({ partition: 'temps:20250101' });
    const { repository } = first;
    repository.write(1);
    repository.watermarkMs = DAY + 2 * HOUR_MS;
    await first.service.start();
    await turns(first.service, 3);
    // The fold stops at the first early reading: those of that hour's range are counted, once.
    expect(await first.rejected('early')).toBe(60);
    // Restarted: the same entries are still ahead of the watermark, and not counted again.
    const second = newTestService({}, repository);
    await second.service.start();
    await turns(second.service, 3);
    expect(await second.rejected('early')).toBe(0);
    expect(repository.averages).toHaveLength(2);
  });

  it('a step that failed to commit is counted once, when it is committed', async () => {
    const { service, repository, aggregated } = newTestService({ partition: 'temps:20250101' });
    repository.write(1);
    repository.watermarkMs = DAY + DAY_MS;
    await service.start();
    repository.failNextCommit = new Error('ERR connection lost');
    await expect(service.handle()).rejects.toThrow('connection lost');
    await turns(service, 3); // the transport retries from the committed position
    expect(await aggregated()).toBe(24 * 60);
    expect(repository.averages).toEqual(expectedHours(repository));
  });

  it("an entry from a real clock in the day's partition is wrong_partition, never early: the day completes", async () => {
    const { service, repository, output, rejected } = newTestService({
      partition: 'temps:20250101',
    });
    repository.write(2);
    repository.watermarkMs = DAY + 2 * DAY_MS;
    repository.streams.get('temps:20250101')!.push(['1796614697089-0', ['temp_f', '70']]);
    await service.start();
    await turns(service, 4);
    expect(await rejected('wrong_partition')).toBe(1);
    expect(await rejected('early')).toBe(0);
    expect(output.lines).toContain('Changing partition to consume stream: temps:20250102');
    expect(repository.averages.filter((h) => h.hourStartMs < DAY + DAY_MS)).toHaveLength(24);
  });

  it('a cursor on an entry long before the day reads on at once, without walking the hours between', async () => {
    const { service, repository } = newTestService({});
    repository.write(1);
    repository.streams.get('temps:20250101')!.unshift(['1-1', ['temp_f', '70']]);
    repository.watermarkMs = DAY + DAY_MS;
    repository.saved = {
      state: { ...initialState('temps:20250101'), lastId: '1-1' },
      writer: null,
    };
    await service.start();
    await turns(service, 3);
    expect(repository.averages).toHaveLength(24);
    expect(repository.folds).toBeLessThan(30);
  });

  it('its state deleted while it runs, with no rule to begin again by: StateLostError (fatal)', async () => {
    const { service, repository } = newTestService({ partition: 'temps:20250101' });
    repository.write(1);
    await service.start();
    repository.saved = null;
    await expect(service.handle()).rejects.toBeInstanceOf(StateLostError);
  });
});
