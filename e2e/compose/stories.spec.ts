import {
  checkWarehouseRows,
  composeImage,
  eventually,
  expectedHours,
  queryRows,
  warehousePanelSql,
  type WarehousePanelRow,
  metricValue,
  panelQueriesWithoutData,
  queryPrometheus,
  startPrivateRedis,
} from '@temps/testing';
import { DAY_MS, READING_REJECT_REASONS, HOUR_MS, PARTITION_SKIP_REASONS } from '@temps/streams';
import { Redis } from 'ioredis';
import { APP_SERVICES, ComposeStack, docker, type ServiceName } from './compose-stack';
import { hourProblems, printedHours, type PrintedHour } from './printed-hours';

/** A fixed seed through compose's PRODUCER_SEED, so the test can regenerate every reading. */
const SEED = 20_250_101;
const RUN_START = Date.UTC(2025, 0, 1);
/** How long a container stays stopped (the user's story: "stop a container, start it again"). */
const STOP_SECONDS = Number(process.env.COMPOSE_STOP_SECONDS ?? 180);
/** Which containers are stopped that long, one after the other (default: the aggregator). */
const STOP_SERVICES = (process.env.COMPOSE_STOP_SERVICES ?? 'aggregator').split(
  ',',
) as ServiceName[];

const GRAFANA_IMAGE = composeImage('grafana');

const say = (line: string) => process.stdout.write(`e2e/compose: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the test Redis, with a Docker engine reachable', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('stays a private redis-server unless TEMPS_TEST_REDIS=container asks for a container', async () => {
    expect(process.env.DOCKER_HOST ?? '/var/run/docker.sock').toBeTruthy();
    delete process.env.TEMPS_TEST_REDIS;
    const binary = await startPrivateRedis();
    try {
      const [, dir] = (await binary.client().config('GET', 'dir')) as string[];
      expect(dir).toMatch(/temps-redis-/);
    } finally {
      await binary.stop();
    }
  });

  it("gives a container of the compose file's Redis image with TEMPS_TEST_REDIS=container", async () => {
    process.env.TEMPS_TEST_REDIS = 'container';
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const container = await startPrivateRedis();
    try {
      expect(await container.client().ping()).toBe('PONG');
      const running = await docker(['ps', '--format', '{{.Image}} {{.Ports}}']);
      expect(running.stdout).toContain(`${composeImage('redis')} `);
      expect(running.stdout).toContain(`:${container.port}->6379`);
    } finally {
      await container.stop();
    }
  });
});

describe('docker compose: up, stop a container, watch it recover', () => {
  const stack = new ComposeStack({ PRODUCER_SEED: String(SEED) });
  let services: ServiceName[];
  /** Averages printed by reader containers that no longer exist (before `down`). */
  let earlierOutput = '';

  const url = (service: ServiceName, path = '') =>
    `http://127.0.0.1:${stack.ports[service]}${path}`;
  /** The compose PostgreSQL with the compose file's default password, as Grafana reaches it. */
  const warehouseUrl = () => `postgres://temps:temps@127.0.0.1:${stack.ports.postgres}/temps`;
  const metrics = async (service: ServiceName) => (await fetch(url(service, '/metrics'))).text();
  const metric = async (service: ServiceName, series: string) =>
    metricValue(await metrics(service), series);
  const printed = async (): Promise<PrintedHour[]> =>
    printedHours(earlierOutput + (await stack.logs('averages')));

  async function allHealthy(timeoutMs = 120_000): Promise<void> {
    await eventually(
      async () =>
        (await Promise.all(services.map((s) => stack.health(s)))).every((h) => h === 'healthy'),
      timeoutMs,
      1_000,
    ).catch(async (error: Error) => {
      const states = await Promise.all(
        services.map(async (s) => `${s}=${await stack.health(s).catch(() => '?')}`),
      );
      throw new Error(`${error.message}; ${states.join(' ')}`);
    });
  }

  /** The producer's watermark hour, once every hour before it has been printed. */
  async function caughtUp(timeoutMs = 120_000): Promise<PrintedHour[]> {
    const watermark = await metric(
      'producer',
      'temps_producer_watermark_seconds{service="producer"}',
    );
    const due = Math.floor((watermark! * 1000) / HOUR_MS) * HOUR_MS - HOUR_MS;
    return eventually(
      async () => {
        const hours = await printed();
        return hours.length > 0 && hours[hours.length - 1].hourMs >= due ? hours : null;
      },
      timeoutMs,
      1_000,
    );
  }

  /**
   * Every hour printed once, in order, whole and exact; and the warehouse panel's SQL, run against
   * the compose PostgreSQL, holds each of those hours once with the same values.
   */
  async function expectEveryHourOnce(): Promise<PrintedHour[]> {
    const hours = await caughtUp();
    expect(hourProblems(hours, RUN_START, SEED)).toEqual([]);
    const last = hours[hours.length - 1].hourMs;
    const reference = expectedHours({
      startMs: RUN_START,
      days: Math.ceil((last + HOUR_MS - RUN_START) / DAY_MS),
      devices: 1,
      seed: SEED,
    });
    const stored = new Map([...reference].filter(([hour]) => hour <= last));
    const problems: string[] = [];
    await eventually(
      async () => {
        problems.length = 0;
        const rows = (
          await queryRows<WarehousePanelRow>(warehouseUrl(), warehousePanelSql())
        ).filter((row) => new Date(row.time).getTime() <= last);
        const tally = checkWarehouseRows(rows, stored, problems);
        return tally.lost + tally.doubled + tally.wrong === 0;
      },
      60_000,
      1_000,
    ).catch(() => {
      throw new Error(`the warehouse panel's rows differ:\n${problems.slice(0, 20).join('\n')}`);
    });
    return hours;
  }

  beforeAll(async () => {
    await stack.allocatePorts();
    services = ['redis', 'postgres', ...APP_SERVICES, 'prometheus'];
    if (!(await stack.hasImage(GRAFANA_IMAGE))) {
      await stack.docker(['pull', GRAFANA_IMAGE], 60_000).catch(() => undefined);
    }
    if (await stack.hasImage(GRAFANA_IMAGE)) services.push('grafana');
    else
      say(
        `${GRAFANA_IMAGE} cannot be had on this engine (no registry): grafana left out; its panels' queries run against Prometheus.`,
      );

    const build = await stack.composeRun(['build', ...APP_SERVICES], 20 * 60_000);
    const up = Date.now();
    await stack.composeRun(['up', '-d', ...services], 5 * 60_000);
    await allHealthy(180_000);
    const sizes = await Promise.all(
      APP_SERVICES.map(async (s) => `${s} ${Math.round((await stack.imageBytes(s)) / 1e6)} MB`),
    );
    say(
      `images built in ${(build.ms / 1000).toFixed(0)} s; every service healthy ${((Date.now() - up) / 1000).toFixed(0)} s after up; image sizes: ${sizes.join(', ')}`,
    );
  }, 30 * 60_000);

  afterAll(async () => {
    await stack.destroy();
  }, 120_000);

  it('comes up with no environment but moved ports, and the averages reader prints hour after hour', async () => {
    const hours = await eventually(
      async () => {
        const seen = await printed();
        return seen.length >= 3 ? seen : null;
      },
      120_000,
      1_000,
    );
    expect(hourProblems(hours, RUN_START, SEED)).toEqual([]);
    const log = await stack.logs('averages');
    expect(log).toContain('Starting averages consumer in stream temps:averages at message 0.');
    // An average at least every 15 s, so the panels visibly move.
    const before = hours.length;
    await sleep(15_000);
    expect((await printed()).length).toBeGreaterThan(before);
  });

  it('answers every query of every dashboard panel from the compose Prometheus', async () => {
    const prometheus = url('prometheus');
    await eventually(
      async () => (await queryPrometheus(prometheus, 'up == 1')).length === 3,
      60_000,
      1_000,
    );
    expect(await panelQueriesWithoutData(prometheus, 120_000)).toEqual([]);
    // Counters of known reasons exist at 0 from the start: the panels read 0, not "No data".
    const reasons = async (expr: string) =>
      (await queryPrometheus(prometheus, expr)).map((s) => s.metric.reason).sort();
    expect(await reasons('sum by (reason) (temps_readings_rejected_total)')).toEqual(
      [...READING_REJECT_REASONS].sort(),
    );
    expect(await reasons('sum by (reason) (temps_partitions_skipped_total)')).toEqual(
      [...PARTITION_SKIP_REASONS].sort(),
    );
    if (services.includes('grafana')) {
      const home = await fetch(url('grafana', '/api/dashboards/home'));
      expect(home.status).toBe(200); // anonymous Viewer, no login
    }
  });

  it.each(STOP_SERVICES)(
    `loses nothing when %s is stopped for ${STOP_SECONDS} s and started again`,
    async (service) => {
      const headroom = await metric(
        'averages',
        'temps_aggregator_headroom_seconds{service="averages"}',
      );
      say(`aggregator headroom before ${service} stops: ${headroom?.toFixed(0)} s`);
      if (service === 'aggregator') expect(headroom).toBeGreaterThan(STOP_SECONDS + 60);
      await stack.composeRun(['stop', service]);
      await sleep(STOP_SECONDS * 1000);
      if (service === 'aggregator') {
        // The averages reader, owner of the per-stream gauges, still reports how long the aggregator has left.
        const left = await metric(
          'averages',
          'temps_aggregator_headroom_seconds{service="averages"}',
        );
        say(`aggregator headroom after ${STOP_SECONDS} s stopped: ${left?.toFixed(0)} s`);
        expect(left).toBeGreaterThan(30);
      }
      await stack.composeRun(['start', service]);
      await allHealthy();
      await expectEveryHourOnce();
      expect(
        await metric(
          'aggregator',
          'temps_partitions_skipped_total{reason="expired",service="aggregator"}',
        ),
      ).toBe(0);
      expect(await stack.logs('aggregator')).not.toMatch(/expired before it was fully read/);
      expect(await stack.logs('averages')).not.toMatch(/Missed \d+ hourly average/);
    },
  );

  it('loses nothing when the producer is killed (SIGKILL) and started, or Redis restarted', async () => {
    await stack.composeRun(['kill', '-s', 'SIGKILL', 'producer']);
    // Docker counts a kill as a deliberate stop: `restart: unless-stopped` leaves it down.
    await sleep(3_000);
    expect(await stack.inspect('producer', '{{.State.Status}}')).toBe('exited');
    await stack.composeRun(['start', 'producer']);
    await allHealthy();
    const afterKill = await expectEveryHourOnce();

    await stack.composeRun(['restart', 'redis']);
    await allHealthy();
    await eventually(async () => (await printed()).length > afterKill.length + 2, 120_000, 1_000);
    await expectEveryHourOnce();
  });

  it('resumes from the append-only file after `down` and `up`, nothing reset or doubled', async () => {
    const redis = new Redis(url('redis').replace('http', 'redis'), { maxRetriesPerRequest: 1 });
    const watermark = Number(await redis.hget('producer_state', 'watermark_ms'));
    redis.disconnect();
    // The reader is stopped before its log is read: `down` removes the container, and an hour it
    // printed between the read and `down` would be missing from the test's record though printed.
    await stack.composeRun(['stop', '--timeout', '10', 'averages']);
    earlierOutput = await stack.logs('averages');
    const before = printedHours(earlierOutput);

    await stack.composeRun(['down', '--timeout', '10']);
    await stack.composeRun(['up', '-d', ...services], 5 * 60_000);
    await allHealthy(180_000);

    const again = await stack.logs('averages');
    expect(again).not.toContain('at message 0.');
    await eventually(async () => (await printed()).length > before.length + 2, 120_000, 1_000);
    await expectEveryHourOnce();
    const resumed = new Redis(url('redis').replace('http', 'redis'), { maxRetriesPerRequest: 1 });
    try {
      expect(Number(await resumed.hget('producer_state', 'watermark_ms'))).toBeGreaterThan(
        watermark,
      );
    } finally {
      resumed.disconnect();
    }
  });

  it('`docker compose stop` ends every service with exit code 0 within 2 s', async () => {
    const ids = Object.fromEntries(
      await Promise.all(services.map(async (s) => [s, await stack.containerId(s)] as const)),
    );
    const since = new Date(Date.now() - 1_000).toISOString();
    await stack.composeRun(['stop']);
    const until = new Date(Date.now() + 1_000).toISOString();
    for (const service of services) {
      const events = await stack.docker([
        'events',
        '--since',
        since,
        '--until',
        until,
        '--filter',
        `container=${ids[service]}`,
        '--format',
        '{{.Status}} {{.TimeNano}}',
      ]);
      const at = (status: string) =>
        Number(
          events.stdout
            .split('\n')
            .find((line) => line.startsWith(`${status} `))
            ?.split(' ')[1],
        ) / 1e6;
      const took = at('die') - at('kill');
      say(`${service} stopped in ${took.toFixed(0)} ms`);
      expect([service, took < 2_000]).toEqual([service, true]);
      expect([service, await stack.inspect(service, '{{.State.ExitCode}}')]).toEqual([
        service,
        '0',
      ]);
    }
  });
});
