import { Logger } from '@nestjs/common';
import { StaleStateError, StateGoneError } from '@temps/redis';
import { ConsoleOutput } from '@temps/runtime';
import { Registry } from 'prom-client';
import type { AveragesConfig } from './averages-config';
import { AveragesMetrics } from './averages.metrics';
import type { AveragesRepository, ReaderState, SavedReaderState } from './averages.repository';
import { AveragesService } from './averages.service';

const ME = 'this-reader-0000-0000-000000000000' as const;

/** The reader's state in memory, with save-position's guard: the same refusals, typed. */
class FakeRepository implements Pick<
  AveragesRepository,
  | 'instanceId'
  | 'key'
  | 'load'
  | 'initialize'
  | 'save'
  | 'seqOf'
  | 'removedAfter'
  | 'lastGeneratedId'
> {
  readonly instanceId = ME;
  readonly key = 'averages_consumer_state';
  saved: SavedReaderState | null = null;
  /** seq of the entries still in temps:averages, by ID (null: an entry without one). */
  seqs = new Map<string, number | null>();
  removed: 'deleted' | 'maybe-trimmed' | null = null;

  async load() {
    return this.saved && { ...this.saved };
  }
  async initialize(state: ReaderState) {
    this.saved ??= { ...state, writtenBy: ME };
    return { ...this.saved };
  }
  async save(from: ReaderState, to: ReaderState) {
    if (!this.saved) throw new StateGoneError('STATE_GONE averages_consumer_state disappeared');
    if (this.saved.lastId !== from.lastId) throw new StaleStateError('STALE_STATE moved on');
    this.saved = { ...to, writtenBy: ME };
  }
  async seqOf(id: string) {
    return this.seqs.has(id) ? this.seqs.get(id)! : undefined;
  }
  async removedAfter() {
    return this.removed;
  }
  async lastGeneratedId() {
    return null;
  }
}

class Lines extends ConsoleOutput {
  readonly lines: string[] = [];
  override line(text: string): void {
    this.lines.push(text);
  }
}

/** The reader with typed fakes and a clock that moves only when the test moves it. */
function newTestService() {
  const repository = new FakeRepository();
  const output = new Lines();
  const registry = new Registry();
  const clock = { ms: 0 };
  const service = new AveragesService(
    { color: false } as AveragesConfig,
    repository as unknown as AveragesRepository,
    new AveragesMetrics(registry),
    output,
    () => clock.ms,
  );
  return { service, repository, output, registry, clock };
}

const HOUR = 3_600_000;
const average = (n: number, seq: number | null = n): [string, Buffer[]] => [
  `${n * HOUR}-0`,
  [
    'hour',
    String(n % 24),
    'date',
    '2025/01/01',
    'average_temp_f',
    '50',
    'num_observations',
    '3600',
    ...(seq === null ? [] : ['seq', String(seq)]),
  ].map((field) => Buffer.from(field)),
];
const read = (...entries: [string, Buffer[]][]) => ({
  reads: [{ stream: 'temps:averages', entries }],
});

describe('AveragesService decisions (fake repository, fake clock)', () => {
  let warnings: string[];
  beforeEach(() => {
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
  });
  afterEach(() => jest.restoreAllMocks());

  it('its own saves lost (a Redis crash inside the fsync window): reads on from what Redis holds, never from memory', async () => {
    const { service, repository } = newTestService();
    await service.start();
    await service.handle(read(average(1), average(2)));
    expect(repository.saved).toMatchObject({ lastId: `${2 * HOUR}-0`, lastSeq: 2 });
    // Redis comes back with this reader's older position: the save of average 2 is gone.
    repository.saved = { lastId: `${HOUR}-0`, lastSeq: 1, writtenBy: ME };
    await service.handle(read(average(3)));
    expect(warnings).toContain(
      `averages_consumer_state is back at message ${HOUR}-0 (saves were lost, e.g. in a Redis crash); reading on from there.`,
    );
    expect(service.cursor()).toEqual([['temps:averages', `${HOUR}-0`]]);
    await service.handle(read(average(2), average(3)));
    expect(repository.saved).toMatchObject({ lastId: `${3 * HOUR}-0`, lastSeq: 3 });
  });

  it('notices on an idle turn when Redis no longer holds its position (nothing new would tell it)', async () => {
    const { service, repository } = newTestService();
    await service.start();
    await service.handle(read(average(1), average(2)));
    repository.saved = { lastId: `${HOUR}-0`, lastSeq: 1, writtenBy: ME };
    await service.handle(read());
    expect(service.cursor()).toEqual([['temps:averages', `${HOUR}-0`]]);
    await service.handle(read(average(2)));
    expect(repository.saved).toMatchObject({ lastId: `${2 * HOUR}-0`, lastSeq: 2 });
    // Holding its position, an idle turn writes nothing.
    const before = { ...repository.saved! };
    await service.handle(read());
    expect(repository.saved).toEqual(before);
  });

  it('another reader saved meanwhile: says so once, reads nothing while it saves, takes over after 10 quiet seconds', async () => {
    const { service, repository, clock } = newTestService();
    await service.start();
    repository.saved = { lastId: `${HOUR}-0`, lastSeq: 1, writtenBy: 'other' };
    await service.handle(read(average(1)));
    expect(service.cursor()).toEqual([]);
    clock.ms = 5_000;
    repository.saved = { lastId: `${2 * HOUR}-0`, lastSeq: 2, writtenBy: 'other' };
    await service.handle(read());
    clock.ms = 14_999;
    await service.handle(read());
    expect(service.cursor()).toEqual([]);
    clock.ms = 15_000;
    await service.handle(read());
    expect(service.cursor()).toEqual([['temps:averages', `${2 * HOUR}-0`]]);
    expect(warnings.filter((w) => w.startsWith('Another averages reader'))).toHaveLength(1);
    expect(warnings).toContain(
      `averages_consumer_state has not changed for 10 s; reading on from message ${2 * HOUR}-0.`,
    );
  });

  it('its state gone: says so and reads from the start again', async () => {
    const { service, repository } = newTestService();
    await service.start();
    repository.saved = null;
    await service.handle(read(average(1)));
    expect(warnings).toEqual([
      'averages_consumer_state disappeared from Redis while the reader ran (deleted, or evicted under an allkeys-* maxmemory-policy); reading temps:averages again from its start.',
    ]);
    expect(service.cursor()).toEqual([['temps:averages', '0']]);
  });

  it('a stale refusal from its own save applied already (a resend): goes on from its new position', async () => {
    const { service, repository } = newTestService();
    await service.start();
    repository.saved = { lastId: `${HOUR}-0`, lastSeq: 1, writtenBy: ME };
    await service.handle(read(average(1)));
    expect(service.cursor()).toEqual([['temps:averages', `${HOUR}-0`]]);
    expect(warnings).toEqual([]);
  });

  it('set back by a start over (no writer): reads on from the saved position', async () => {
    const { service, repository } = newTestService();
    await service.start();
    await service.handle(read(average(1)));
    repository.saved = { lastId: '0', lastSeq: 0, writtenBy: null };
    await service.handle(read(average(2)));
    expect(service.cursor()).toEqual([['temps:averages', '0']]);
    expect(warnings).toEqual([
      'averages_consumer_state was set back by a start over; reading on from message 0.',
    ]);
  });

  describe("resuming from the exercise's own state (last_message_id only)", () => {
    const missedTotal = async (registry: Registry) =>
      (await registry.getSingleMetric('temps_averages_missed_total')!.get()).values[0]?.value;

    it('at an entry still there: takes its seq; the next averages are no gap', async () => {
      const { service, repository, output, registry } = newTestService();
      repository.saved = { lastId: `${10 * HOUR}-0`, lastSeq: null, writtenBy: null };
      repository.seqs.set(`${10 * HOUR}-0`, 10);
      await service.start();
      expect(service.lastSeq()).toBe(10);
      await service.handle(read(average(11), average(12)));
      expect(output.lines.filter((l) => /Missed|trimmed/.test(l))).toEqual([]);
      expect(await missedTotal(registry)).toBe(0);
      expect(repository.saved).toMatchObject({ lastId: `${12 * HOUR}-0`, lastSeq: 12 });
    });

    it('at an entry gone: no count from a seq it does not know; says only what XINFO proves', async () => {
      const { service, repository, output, registry } = newTestService();
      repository.saved = { lastId: `${10 * HOUR}-0`, lastSeq: null, writtenBy: null };
      repository.removed = 'deleted';
      await service.start();
      await service.handle(read(average(19), average(20)));
      expect(output.lines.filter((l) => /Missed|trimmed/.test(l))).toEqual([
        `Missed hourly averages after message ${10 * HOUR}-0 (how many is not known): deleted from temps:averages before they were read.`,
      ]);
      expect(await missedTotal(registry)).toBe(0);
      expect(service.lastSeq()).toBe(20);
    });

    it('nothing provably removed and averages without seq: reports nothing, keeps the seq unknown', async () => {
      const { service, repository, output } = newTestService();
      repository.saved = { lastId: `${10 * HOUR}-0`, lastSeq: null, writtenBy: null };
      await service.start();
      await service.handle(read(average(11, null)));
      expect(output.lines.filter((l) => /Missed|trimmed/.test(l))).toEqual([]);
      expect(repository.saved).toMatchObject({ lastId: `${11 * HOUR}-0`, lastSeq: null });
    });
  });
});
