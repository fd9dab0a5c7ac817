import { eventually, metricValue, runService, startPrivateRedis } from '@temps/testing';
import { LaneRegistryHash, LaneStateHash, ReadingGenerator, laneSeed } from '@temps/streams';
import { LanesRepository } from '../src/lanes.repository';
import { LaneProducer, holdings, laneDigests, registry } from './lanes-fixture';

/** One MONITOR line's command, as executed (script bodies' commands included, in order). */
interface Executed {
  args: string[];
}

describe('producer lanes: a producer paused past its lease', () => {
  it('has its stale batches refused by the fence, says so once per lane, writes nothing there, and takes lanes again', async () => {
    const server = await startPrivateRedis();
    const monitorClient = server.client();
    const redis = server.client();
    const executed: Executed[] = [];
    const monitor = await monitorClient.monitor();
    monitor.on('monitor', (_time: string, args: string[]) => executed.push({ args }));
    const args = [
      '--shards',
      '4',
      '--devices',
      '4',
      '--seed',
      '3',
      '--follow',
      '--speed',
      '600',
      '--resume',
    ];
    const [a, b] = await Promise.all([
      LaneProducer.start(server, args),
      LaneProducer.start(server, args),
    ]);
    try {
      const [idA, idB] = await Promise.all([a.id(), b.id()]);
      await eventually(async () => {
        const counts = await holdings(redis);
        return counts.get(idA) === 2 && counts.get(idB) === 2;
      }, 15_000);
      const lanesOfA = (await registry(redis))!.leases.lanes
        .map((lane, index) => (lane.holder === idA ? index : -1))
        .filter((index) => index >= 0);

      process.kill(a.process.pid, 'SIGSTOP');
      await eventually(async () => (await holdings(redis)).get(idB) === 4, 15_000, 50);
      // b writes a's lanes now: their watermarks move on.
      const tags = (await registry(redis))!.lanes.map((lane) => lane.tag);
      const marks = async () =>
        Promise.all(
          lanesOfA.map(async (i) =>
            Number(await redis.hget(LaneStateHash.keyOf(tags[i]), 'watermark_ms')),
          ),
        );
      const taken = await marks();
      await eventually(async () => (await marks()).every((ms, i) => ms > taken[i]), 10_000);
      process.kill(a.process.pid, 'SIGCONT');

      for (const i of lanesOfA) {
        await a.process.waitFor(
          `Lane ${tags[i]} passed to another producer (lease lapsed); taking lanes again.`,
        );
      }
      await eventually(async () => {
        const counts = await holdings(redis);
        return counts.get(idA) === 2 && counts.get(idB) === 2;
      }, 15_000);
      expect(
        metricValue(
          (await a.get('/metrics')).body,
          'temps_producer_lease_lost_total{service="producer"}',
        ),
      ).toBe(lanesOfA.length);
      // Let both write a little after the hand-back.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      for (const i of lanesOfA) {
        const lines = a.process.stdout.split('\n');
        expect(lines.filter((l) => l.includes(`Lane ${tags[i]} passed`))).toHaveLength(1);
      }

      // Every lane batch was written by the producer holding the lane's current token: replay the
      // registry's grants (holder, token), the lane states' fences and the batches' writers.
      const grantedTo = new Map<string, string>(); // token → holder
      const fenceOf = new Map<string, string>(); // lane state key → token
      let batches = 0;
      let checkedA = 0;
      for (const { args: command } of executed) {
        const [name, key, ...rest] = command;
        if (name?.toUpperCase() !== 'HSET') continue;
        const fields = new Map<string, string>();
        for (let i = 0; i + 1 < rest.length; i += 2) fields.set(rest[i], rest[i + 1]);
        if (key === LaneRegistryHash.KEY) {
          for (const [field, value] of fields) {
            const lane = /^lane:(\d+):fence$/.exec(field);
            if (lane) grantedTo.set(value, fields.get(`lane:${lane[1]}:holder`)!);
          }
        } else if (key.startsWith('producer_state:{')) {
          if (fields.has('fence')) fenceOf.set(key, fields.get('fence')!);
          else if (fields.has('written_by')) {
            batches++;
            const writer = fields.get('written_by')!;
            expect({ key, writer }).toEqual({ key, writer: grantedTo.get(fenceOf.get(key)!) });
            if (writer === idA) checkedA++;
          }
        }
      }
      expect(batches).toBeGreaterThan(20);
      expect(checkedA).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.process.kill('SIGKILL'), b.process.kill('SIGKILL')]);
      monitor.disconnect();
      await server.stop();
    }
  });
});

describe('producer lanes: only the fence stops a stale batch', () => {
  it('a producer paused mid-write whose lanes were taken (and not written) by another member has every later batch refused, then finishes the run identical to one uninterrupted producer', async () => {
    const [reference, server] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
    const run = ['--shards', '2', '--devices', '2', '--seed', '8', '--days', '8'];
    let a: LaneProducer | undefined;
    try {
      expect((await runService('producer', run, { REDIS_URL: reference.url })).code).toBe(0);
      const expected = await laneDigests(reference.client());
      const redis = server.client();
      // The test is the other member: it takes the lanes and writes nothing, so the paused
      // producer's next batch is still exactly at each lane's position — the guard would let it in.
      const other = new LanesRepository(server.client());
      a = await LaneProducer.start(server, [...run, '--lease-ms', '1000', '--resume']);
      await a.process.waitFor('Holding lanes');
      await eventually(async () => (await redis.keys('temps:*:{*}')).length >= 2);
      process.kill(a.process.pid, 'SIGSTOP');
      const reg = (await registry(redis))!;
      const call = await eventually(
        async () => {
          const leased = await other.lease(reg.runId, 'zz-test', 60_000);
          return leased.held.length === 2 ? leased : null;
        },
        10_000,
        100,
      );
      for (const { lane, token } of call.held) {
        const first = ReadingGenerator.seeded(laneSeed(reg.seed, lane), reg.lanes[lane].devices);
        await other.claimLane(
          reg,
          reg.lanes[lane],
          token,
          first.state(),
          'zz-test',
          false,
          async () => [],
        );
      }
      const frozen = await laneDigests(redis);
      const states = await Promise.all(
        reg.lanes.map((lane) => redis.hgetall(LaneStateHash.keyOf(lane.tag))),
      );
      process.kill(a.process.pid, 'SIGCONT');
      for (const lane of reg.lanes) {
        await a.process.waitFor(
          `Lane ${lane.tag} passed to another producer (lease lapsed); taking lanes again.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Nothing written since the take: not an entry, not a position.
      expect(await laneDigests(redis)).toEqual(frozen);
      expect(
        await Promise.all(reg.lanes.map((lane) => redis.hgetall(LaneStateHash.keyOf(lane.tag)))),
      ).toEqual(states);

      // The other member leaves: the producer takes the lanes again and completes the run.
      await other.lease(reg.runId, 'zz-test', 60_000, true);
      const finished = await a.process.exited;
      expect(finished.code).toBe(0);
      expect(await laneDigests(redis)).toEqual(expected);
    } finally {
      if (a && a.process.exitCode === null) await a.process.kill('SIGKILL');
      await Promise.all([reference.stop(), server.stop()]);
    }
  });
});
