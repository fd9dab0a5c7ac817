import { eventually, panelQueriesWithoutData, queryPrometheus } from '@temps/testing';
import { Redis } from 'ioredis';
import { APP_SERVICES, ComposeStack, type ServiceName } from './compose-stack';
import { expectWarehouseHolds, publishedHours, publishedProblems } from './published-hours';

/**
 * The story of issue 17, on the real compose file: `PRODUCER_SHARDS=6 docker compose up --scale
 * producer=3`, then one producer killed for good. Its lanes pass to the two left, and every hour is
 * still published once with every reading of every device.
 */
const SHARDS = 6;
const DEVICES = 6;
const REPLICAS = 3;
const SEED = 20_250_117;
const RUN = { startMs: Date.UTC(2025, 0, 1), devices: DEVICES, seed: SEED, shards: SHARDS };
/** A full hour: one reading a second from each device. */
const OBSERVATIONS = DEVICES * 3_600;

const say = (line: string) => process.stdout.write(`e2e/compose lanes: ${line}\n`);

interface Target {
  labels: { job: string; instance: string };
  health: string;
}

describe(`docker compose up --scale producer=${REPLICAS} with PRODUCER_SHARDS=${SHARDS}, one producer killed for good`, () => {
  const stack = new ComposeStack(
    {
      PRODUCER_SHARDS: String(SHARDS),
      PRODUCER_DEVICES: String(DEVICES),
      PRODUCER_SEED: String(SEED),
    },
    'lanes',
  );
  // Grafana is left out: the panels' queries are run against Prometheus, as Grafana would.
  const services: ServiceName[] = ['redis', 'postgres', ...APP_SERVICES, 'prometheus'];
  let redis: Redis;
  const prometheus = () => `http://127.0.0.1:${stack.ports.prometheus}`;
  const query = (expr: string) => queryPrometheus(prometheus(), expr);

  /** Every entry of temps:averages, oldest first. */
  const published = () => publishedHours(redis);

  async function producerTargets(): Promise<Target[]> {
    const body = (await (await fetch(`${prometheus()}/api/v1/targets?state=active`)).json()) as {
      data: { activeTargets: Target[] };
    };
    return body.data.activeTargets.filter((t) => t.labels.job === 'producer');
  }

  async function everyContainerHealthy(): Promise<boolean> {
    const ids = (await Promise.all(services.map((s) => stack.containerIds(s)))).flat();
    if (ids.length !== services.length - 1 + REPLICAS) return false;
    return (await Promise.all(ids.map((id) => stack.containerHealth(id)))).every(
      (h) => h === 'healthy',
    );
  }

  beforeAll(async () => {
    await stack.allocatePorts(REPLICAS);
    const build = await stack.composeRun(['build', ...APP_SERVICES], 20 * 60_000);
    const up = Date.now();
    await stack.composeRun(
      ['up', '-d', '--scale', `producer=${REPLICAS}`, ...services],
      5 * 60_000,
    );
    await eventually(everyContainerHealthy, 180_000, 1_000);
    say(
      `images built in ${(build.ms / 1000).toFixed(0)} s; ${REPLICAS} producers and the rest healthy ${((Date.now() - up) / 1000).toFixed(0)} s after up`,
    );
    redis = new Redis(stack.ports.redis, '127.0.0.1', { maxRetriesPerRequest: 1 });
  }, 30 * 60_000);

  afterAll(async () => {
    redis?.disconnect();
    await stack.destroy();
  }, 120_000);

  it('gives each replica its own port of the range, and Prometheus scrapes all three', async () => {
    const ids = await stack.containerIds('producer');
    expect(ids).toHaveLength(REPLICAS);
    const hostPorts = await Promise.all(
      ids.map(async (id) =>
        (
          await stack.docker([
            'inspect',
            '--format',
            '{{(index (index .NetworkSettings.Ports "3001/tcp") 0).HostPort}}',
            id,
          ])
        ).stdout.trim(),
      ),
    );
    const range = Array.from({ length: REPLICAS }, (_, i) => String(stack.ports.producer + i));
    expect([...hostPorts].sort()).toEqual(range);
    for (const port of hostPorts) {
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect([port, health.status]).toEqual([port, 200]);
    }

    const targets = await eventually(
      async () => {
        const found = await producerTargets();
        return found.length === REPLICAS && found.every((t) => t.health === 'up') ? found : null;
      },
      60_000,
      1_000,
    );
    expect(new Set(targets.map((t) => t.labels.instance)).size).toBe(REPLICAS);
  });

  it("answers each producer and lane panel's query from Prometheus: 3 producers, 6 lanes", async () => {
    // Readings per producer: one series per producer, each writing.
    const perProducer = await eventually(
      async () => {
        const series = await query('sum by (instance) (rate(temps_readings_produced_total[1m]))');
        return series.length === REPLICAS && series.every((s) => Number(s.value[1]) > 0)
          ? series
          : null;
      },
      60_000,
      1_000,
    );
    say(
      `readings per producer: ${perProducer.map((s) => `${s.metric.instance} ${Number(s.value[1]).toFixed(0)}/s`).join(', ')}`,
    );
    // Lanes per producer: every lane held, by one producer each, spread over all of them.
    const held = await eventually(
      async () => {
        const series = await query('sum by (instance) (temps_producer_lanes_held)');
        const total = series.reduce((sum, s) => sum + Number(s.value[1]), 0);
        return series.length === REPLICAS && total === SHARDS ? series : null;
      },
      60_000,
      1_000,
    );
    say(`lanes per producer: ${held.map((s) => `${s.metric.instance} ${s.value[1]}`).join(', ')}`);
    // Lane lag: one series per lane.
    const lag = await eventually(
      async () => {
        const series = await query('max by (lane) (temps_aggregator_lane_lag_seconds)');
        return series.length === SHARDS ? series : null;
      },
      60_000,
      1_000,
    );
    expect(new Set(lag.map((s) => s.metric.lane)).size).toBe(SHARDS);
    // And every other panel of the dashboard has data over lanes too (partitions named per lane).
    expect(await panelQueriesWithoutData(prometheus(), 60_000, { lanes: true })).toEqual([]);
  });

  it('publishes every hour once, from every reading, after one producer is killed for good', async () => {
    await eventually(async () => (await published()).length >= 3, 120_000, 1_000);
    const before = await published();

    // Killed (Docker counts it as a deliberate stop: no restart) and removed, so nothing brings it back.
    const [victim] = await stack.containerIds('producer');
    const killedAt = Date.now();
    await stack.docker(['kill', victim]);
    await stack.docker(['rm', victim]);
    say(`killed and removed one producer after ${before.length} hours`);

    // The two left hold all six lanes between them, and Prometheus no longer scrapes the dead one.
    const took = await eventually(
      async () => {
        const series = await query('sum by (instance) (temps_producer_lanes_held)');
        const total = series.reduce((sum, s) => sum + Number(s.value[1]), 0);
        const targets = await producerTargets();
        return series.length === REPLICAS - 1 && total === SHARDS && targets.length === 2
          ? Date.now() - killedAt
          : null;
      },
      90_000,
      1_000,
    );
    say(
      `the other producers hold all ${SHARDS} lanes ${(took / 1000).toFixed(1)} s after the kill`,
    );

    // Hours keep coming, well past the one the dead producer was writing.
    const target = before.length + 6;
    const hours = await eventually(
      async () => {
        const seen = await published();
        return seen.length >= target ? seen : null;
      },
      180_000,
      1_000,
    );

    // temps:averages: every hour from the run's first, once, in order, from every reading of every
    // device, with the value the regenerated readings give (every lane's, by the lanes' seeds).
    expect(publishedProblems(hours, RUN)).toEqual([]);

    // The compose PostgreSQL, read with the dashboard's warehouse panel SQL: each of those hours
    // once, with the same values.
    const url = `postgres://temps:temps@127.0.0.1:${stack.ports.postgres}/temps`;
    await expectWarehouseHolds(url, RUN, hours[hours.length - 1].hourMs);
    // The lane alert is loaded and evaluates against the real series; the handover did not fire it
    // (a lane behind for seconds, not minutes), nor did the dead producer fire TempsServiceDown.
    const rules = (await (await fetch(`${prometheus()}/api/v1/rules?type=alert`)).json()) as {
      data: { groups: { rules: { name: string; state: string; health: string }[] }[] };
    };
    const alerts = new Map(rules.data.groups.flatMap((g) => g.rules.map((r) => [r.name, r])));
    for (const name of ['TempsLaneStalled', 'TempsServiceDown'])
      expect([name, alerts.get(name)?.health, alerts.get(name)?.state]).toEqual([
        name,
        'ok',
        expect.not.stringMatching(/^firing$/),
      ]);
    expect(await query('max(temps_aggregator_lane_lag_seconds)')).toHaveLength(1);
    say(`${hours.length} hours published and stored once each, ${OBSERVATIONS} observations each`);
  });
});
