import { eventually, panelQueriesWithoutData, queryPrometheus } from '@temps/testing';
import { Cluster } from 'ioredis';
import {
  APP_SERVICES,
  CLUSTER_CREATE,
  CLUSTER_NODES,
  ComposeStack,
  type ClusterNode,
  type ServiceName,
} from './compose-stack';
import { expectWarehouseHolds, publishedHours, publishedProblems } from './published-hours';

/**
 * The cluster story, on the real compose files: `docker compose -f docker-compose.yml -f
 * docker-compose.cluster.yml up` starts 3 masters and 3 replicas, a one-shot service makes them a
 * cluster, and the services run their lanes on it (PRODUCER_SHARDS 6 by the cluster file, two lanes
 * a master; every round confirmed by a replica). Then the master holding temps:averages (the
 * consumers' states, the producers' registry and two lanes) is killed: its replica takes over, and
 * once the killed node is started again, as the new master's replica, the lanes held back for want
 * of a replica go on. Every hour is published once, from every reading.
 */
const SHARDS = 6;
const SEED = 20_250_107;
/** The cluster file's default: one device per lane. */
const RUN = { startMs: Date.UTC(2025, 0, 1), devices: SHARDS, seed: SEED, shards: SHARDS };
/** How long the killed master stays down before it is started again. */
const DOWN_SECONDS = Number(process.env.COMPOSE_CLUSTER_DOWN_SECONDS ?? 30);

const say = (line: string) => process.stdout.write(`e2e/compose cluster: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A line of CLUSTER NODES. */
interface ClusterNodeLine {
  id: string;
  /** ip:port, as the services and the metrics' `node` label name it. */
  address: string;
  flags: string[];
  /** The id of the master a replica follows, else '-'. */
  masterId: string;
  link: string;
  slots: string[];
}

function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, addr, flags, masterId, , , , link, ...slots] = line.trim().split(' ');
      return {
        id,
        address: addr.split('@')[0],
        flags: flags.split(','),
        masterId,
        link,
        slots,
      };
    });
}

/** Masters that serve slots, and whether each has exactly one connected replica. */
function shape(nodes: ClusterNodeLine[]) {
  const alive = nodes.filter((n) => !n.flags.some((f) => f === 'fail' || f === 'fail?'));
  const masters = alive.filter((n) => n.flags.includes('master') && n.slots.length > 0);
  const replicas = alive.filter((n) => n.flags.includes('slave') && n.link === 'connected');
  const replicaCount = (master: ClusterNodeLine) =>
    replicas.filter((r) => r.masterId === master.id).length;
  return {
    masters,
    replicas,
    everyMasterHasOneReplica: masters.every((m) => replicaCount(m) === 1),
  };
}

describe('docker compose -f docker-compose.yml -f docker-compose.cluster.yml up: 3 masters and 3 replicas, one master killed', () => {
  const stack = new ComposeStack({ PRODUCER_SEED: String(SEED) }, 'cluster', { cluster: true });
  // Grafana is left out: the panels' queries are run against Prometheus, as Grafana would.
  const services: ServiceName[] = [...CLUSTER_NODES, 'postgres', ...APP_SERVICES, 'prometheus'];
  const prometheus = () => `http://127.0.0.1:${stack.ports.prometheus}`;
  const query = (expr: string) => queryPrometheus(prometheus(), expr);
  /** Each node's current compose address (ip:6379) → its published port on 127.0.0.1. */
  const published = new Map<string, { host: string; port: number }>();
  let cluster: Cluster;

  const containerOf = async (service: ServiceName) => (await stack.containerIds(service))[0];
  const addressOf = async (node: ClusterNode) =>
    `${(
      await stack.docker([
        'inspect',
        '--format',
        '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
        await containerOf(node),
      ])
    ).stdout.trim()}:6379`;

  /** Learns the nodes' addresses again (a restarted container may get another). */
  async function mapAddresses(): Promise<Map<string, ClusterNode>> {
    const byAddress = new Map<string, ClusterNode>();
    for (const node of CLUSTER_NODES) {
      const address = await addressOf(node);
      if (address.startsWith(':')) continue; // not running: no address
      byAddress.set(address, node);
      published.set(address, { host: '127.0.0.1', port: stack.nodePort(node) });
    }
    return byAddress;
  }

  /** `redis-cli` inside a running node container. */
  async function redisCli(node: ClusterNode, ...args: string[]): Promise<string> {
    return (await stack.docker(['exec', await containerOf(node), 'redis-cli', ...args])).stdout;
  }

  /** CLUSTER NODES as `node` sees it. */
  async function clusterNodes(node: ClusterNode): Promise<ClusterNodeLine[]> {
    return parseClusterNodes(await redisCli(node, 'cluster', 'nodes'));
  }

  /**
   * Every entry of temps:averages, read through a cluster client from the host; in a failover a
   * read may wait for the cluster, so it gives up after 10 s (and `eventually` asks again).
   */
  const hours = async () => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('temps:averages not read within 10 s')), 10_000);
    });
    try {
      return await Promise.race([publishedHours(cluster), late]);
    } finally {
      clearTimeout(timer);
    }
  };
  /** The entries of temps:averages, asked until the cluster answers. */
  const hoursNow = () => eventually(hours, 60_000, 500);

  async function everyContainerHealthy(): Promise<boolean> {
    const ids = (await Promise.all(services.map((s) => stack.containerIds(s)))).flat();
    if (ids.length !== services.length) return false;
    return (await Promise.all(ids.map((id) => stack.containerHealth(id)))).every(
      (h) => h === 'healthy',
    );
  }

  const startedAt = async (service: ServiceName, field: 'StartedAt' | 'FinishedAt') =>
    Date.parse(
      (
        await stack.docker([
          'inspect',
          '--format',
          `{{.State.${field}}}`,
          await containerOf(service),
        ])
      ).stdout.trim(),
    );

  beforeAll(async () => {
    await stack.allocatePorts();
    const build = await stack.composeRun(['build', ...APP_SERVICES], 20 * 60_000);
    const up = Date.now();
    await stack.composeRun(['up', '-d', ...services], 5 * 60_000);
    await eventually(everyContainerHealthy, 180_000, 1_000);
    const healthy = Date.now() - up;
    const formed = (await startedAt(CLUSTER_CREATE, 'FinishedAt')) - up;
    say(
      `images built in ${seconds(build.ms)}; the cluster formed ${seconds(formed)} and every service was healthy ${seconds(healthy)} after up`,
    );
    await mapAddresses();
    cluster = new Cluster(
      CLUSTER_NODES.map((node) => ({ host: '127.0.0.1', port: stack.nodePort(node) })),
      {
        // The nodes announce their compose addresses; the host reaches them by their published ports.
        natMap: (key) => published.get(key) ?? null,
        redisOptions: { maxRetriesPerRequest: 1 },
      },
    );
  }, 30 * 60_000);

  afterAll(async () => {
    cluster?.disconnect();
    await stack.destroy();
  }, 120_000);

  it('forms one cluster of 3 masters with a replica each before the services start, and leaves it be on the next up', async () => {
    const create = await stack.containerIds(CLUSTER_CREATE);
    expect(create).toHaveLength(1);
    expect(await stack.containerHealth(create[0])).toBe('exited');
    expect(
      (await stack.docker(['inspect', '--format', '{{.State.ExitCode}}', create[0]])).stdout.trim(),
    ).toBe('0');
    const log = await stack.docker(['logs', create[0]]);
    expect(log.stdout).toContain('Creating the cluster on');

    const info = await redisCli('redis', 'cluster', 'info');
    expect(info).toMatch(/^cluster_state:ok\r?$/m);
    expect(info).toMatch(/^cluster_known_nodes:6\r?$/m);
    expect(info).toMatch(/^cluster_size:3\r?$/m);
    const nodes = await clusterNodes('redis');
    const { masters, replicas, everyMasterHasOneReplica } = shape(nodes);
    expect([masters.length, replicas.length, everyMasterHasOneReplica]).toEqual([3, 3, true]);

    // service_completed_successfully: no service started before the cluster was whole.
    const formed = await startedAt(CLUSTER_CREATE, 'FinishedAt');
    for (const service of APP_SERVICES)
      expect([service, (await startedAt(service, 'StartedAt')) >= formed]).toEqual([service, true]);

    // A second up runs the one-shot service again: it finds the cluster and changes nothing.
    await stack.composeRun(['up', '-d', ...services], 5 * 60_000);
    await eventually(
      async () => (await stack.containerHealth(create[0])) === 'exited',
      60_000,
      1_000,
    );
    const again = (await stack.docker(['logs', create[0]])).stdout;
    expect(again).toContain('The cluster exists');
    expect(again.match(/Creating the cluster on/g)).toHaveLength(1);
    const after = await clusterNodes('redis');
    expect(after.map((n) => n.id).sort()).toEqual(nodes.map((n) => n.id).sort());
    expect(await redisCli('redis', 'cluster', 'info')).toMatch(/^cluster_state:ok\r?$/m);
  });

  it('answers every panel query, with one line per master on the per-master panels', async () => {
    const masters = shape(await clusterNodes('redis'))
      .masters.map((m) => m.address)
      .sort();
    // Readings per Redis master: every master writes two lanes' readings, a device each.
    const perMaster = await eventually(
      async () => {
        const series = await query(
          'max by (node) (avg_over_time(clamp_min(deriv(temps_redis_node_stream_entries[10s]), 0)[1m:5s]))',
        );
        return series.length === 3 && series.every((s) => Number(s.value[1]) > 0) ? series : null;
      },
      120_000,
      1_000,
    );
    expect(perMaster.map((s) => s.metric.node).sort()).toEqual(masters);
    say(
      `readings per master: ${perMaster.map((s) => `${s.metric.node} ${Number(s.value[1]).toFixed(0)}/s`).join(', ')}`,
    );
    const memory = await query('max by (node) (temps_redis_node_used_memory_bytes)');
    expect(memory.map((s) => s.metric.node).sort()).toEqual(masters);
    say(
      `memory per master: ${memory.map((s) => `${s.metric.node} ${(Number(s.value[1]) / 1e6).toFixed(1)} MB`).join(', ')}`,
    );
    expect(await panelQueriesWithoutData(prometheus(), 120_000, { lanes: true })).toEqual([]);
  });

  it('publishes every hour once, from every reading, after the master holding temps:averages is killed and started again', async () => {
    await eventually(async () => (await hours()).length >= 3, 180_000, 1_000);

    // The master serving temps:averages' slot, and its replica.
    const slot = Number((await redisCli('redis', 'cluster', 'keyslot', 'temps:averages')).trim());
    const byAddress = await mapAddresses();
    const nodes = await clusterNodes('redis');
    const owner = nodes.find(
      (n) =>
        n.flags.includes('master') &&
        n.slots.some((range) => {
          const [from, to = from] = range.split('-').map(Number);
          return slot >= from && slot <= to;
        }),
    )!;
    const heir = nodes.find((n) => n.masterId === owner.id)!;
    const victim = byAddress.get(owner.address)!;
    const successor = byAddress.get(heir.address)!;
    const survivor = CLUSTER_NODES.find((n) => n !== victim && n !== successor)!;
    const before = (await hoursNow()).length;

    const killedAt = Date.now();
    await stack.docker(['kill', await containerOf(victim)]);
    say(`killed ${victim} (${owner.address}, master of temps:averages) after ${before} hours`);
    const promoted = await eventually(
      async () => {
        const seen = (await clusterNodes(survivor)).find((n) => n.id === heir.id);
        return seen?.flags.includes('master') && seen.slots.length > 0
          ? Date.now() - killedAt
          : null;
      },
      60_000,
      200,
    );
    say(`${successor} (${heir.address}) promoted ${seconds(promoted)} after the kill`);

    // Down for a while: the lanes on the promoted master, with no replica to confirm them, wait.
    await sleep(DOWN_SECONDS * 1000);
    const whileDown = (await hoursNow()).length;
    // The producer counts the promoted master's short WAIT rounds, and the alert on them is pending
    // for it (it fires after 2 minutes; promtool's tests cover that).
    const alert = await eventually(
      async () => {
        const body = (await (await fetch(`${prometheus()}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string }[] };
        };
        return (
          body.data.alerts.find(
            (a) =>
              a.labels.alertname === 'TempsReplicasNotConfirming' && a.labels.node === heir.address,
          ) ?? null
        );
      },
      60_000,
      1_000,
    );
    expect(['pending', 'firing']).toContain(alert.state);
    say(`TempsReplicasNotConfirming ${alert.state} for ${heir.address}, which has no replica`);
    const startedAgain = Date.now();
    await stack.docker(['start', await containerOf(victim)]);
    const rejoined = await eventually(
      async () => {
        const seen = (await clusterNodes(survivor)).find((n) => n.id === owner.id);
        const replication = await redisCli(victim, 'info', 'replication');
        return seen?.flags.includes('slave') &&
          seen.masterId === heir.id &&
          /^master_link_status:up\r?$/m.test(replication)
          ? Date.now() - startedAgain
          : null;
      },
      120_000,
      500,
    );
    const addressAfter = await addressOf(victim);
    await mapAddresses();
    say(
      `${victim} started again after ${DOWN_SECONDS} s down (${whileDown - before} hours published meanwhile): the replica of ${successor} ${seconds(rejoined)} later, at ${addressAfter}`,
    );
    const reshaped = await eventually(
      async () => {
        const seen = shape(await clusterNodes(survivor));
        return seen.masters.length === 3 && seen.everyMasterHasOneReplica ? seen : null;
      },
      30_000,
      500,
    );
    expect(reshaped.masters.map((m) => m.id)).toContain(heir.id);

    // Hours keep coming, well past those held back.
    const firstAfter = await eventually(
      async () => ((await hours()).length > whileDown ? Date.now() - startedAgain : null),
      180_000,
      1_000,
    );
    say(`the next hour published ${seconds(firstAfter)} after the node was started again`);
    const target = Math.max(whileDown, before) + 6;
    const all = await eventually(
      async () => {
        const seen = await hours();
        return seen.length >= target ? seen : null;
      },
      240_000,
      1_000,
    );
    expect(publishedProblems(all, RUN)).toEqual([]);
    const url = `postgres://temps:temps@127.0.0.1:${stack.ports.postgres}/temps`;
    await expectWarehouseHolds(url, RUN, all[all.length - 1].hourMs);

    // The per-master panels follow the promotion: the three masters now, the heir among them.
    const masters = reshaped.masters.map((m) => m.address).sort();
    await eventually(
      async () => {
        const series = await query('max by (node) (temps_redis_node_used_memory_bytes)');
        return JSON.stringify(series.map((s) => s.metric.node).sort()) === JSON.stringify(masters);
      },
      60_000,
      1_000,
    );
    say(`${all.length} hours published and stored once each, ${SHARDS * 3_600} observations each`);
  });
});
