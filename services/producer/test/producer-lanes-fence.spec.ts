import { eventually, startPrivateRedis } from '@temps/testing';
import { LaneRegistryHash, LaneStateHash } from '@temps/streams';
import { LaneProducer, holdings, registry } from './lanes-fixture';

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
      process.kill(a.process.pid, 'SIGCONT');
      await Promise.all([a.process.kill('SIGKILL'), b.process.kill('SIGKILL')]);
      monitor.disconnect();
      await server.stop();
    }
  });
});
