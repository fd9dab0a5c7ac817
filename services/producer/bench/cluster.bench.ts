/**
 * `npm run bench:cluster`: the same lanes run (--shards 6, --speed max) on one Redis node and on a
 * private Redis Cluster of 3 masters with one replica each, each against redis-benchmark's
 * pipelined XADD on the same servers in the same round:
 *
 * - one node: `redis-benchmark -P 1000 -c 1 XADD s '*' temp_f 70`;
 * - the cluster: `redis-benchmark --cluster -P 1000 -c 3 XADD 's:{tag}' '*' temp_f 70` (one
 *   connection per master, `{tag}` a hash tag of that master's slots);
 * - the producer on one node, on the cluster, and on the cluster with REDIS_WAIT_REPLICAS=1.
 *
 * Seven server processes and the clients share this machine's two cores, so wall-clock rates say
 * little about what a cluster can carry: besides readings/s, each run reports every master's CPU
 * seconds (INFO cpu, used_cpu_sys + used_cpu_user, before and after) per million entries it took,
 * the replicas' CPU, the replication stream (master_repl_offset), the bytes clients sent
 * (total_net_input_bytes), used_memory's growth, and the client process's own CPU
 * (/proc/<pid>/stat, from its start line). Nothing asserts a speed-up; every entry is counted on
 * the masters, and the WAIT run reports how many lanes it left confirmed to their end.
 *
 * On the data a producer left, the lanes aggregator (PRODUCER_SHARDS=6 --from-oldest), on one node
 * and on the cluster: its rate, its CPU and the masters' (the fold runs in Redis); every reading
 * must be in the averages' num_observations. Bytes per reading (MEMORY USAGE) on the cluster, and
 * with the producer's most devices on one node. Last, once: a cluster run with a BGSAVE on every master half-way (the fork's pause and its
 * copy-on-write under full write load), and the main thread's time to DEL a partition, which is
 * what an expiring day costs.
 *
 * The servers run with the compose file's stream node settings (stream-node-max-entries 1000,
 * stream-node-max-bytes 0). BENCH_SMOKE=1: one small round that checks every path and asserts no
 * figure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { ServiceProcess, freePort, startPrivateRedis, startRedisCluster } from '@temps/testing';
import { LaneStateHash, laneLayout } from '@temps/streams';
import { xaddReference } from './xadd-reference';

const SMOKE = process.env.BENCH_SMOKE === '1';
const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);
const SHARDS = 6;
/** Two devices a lane: each lane batch carries two readings an instant, as a real lane would. */
const DEVICES = SMOKE ? 6 : 12;
const DAYS = SMOKE ? 1 : 4;
const READINGS = DEVICES * DAYS * 86_400;
const RUN = ['--seed', '1', '--speed', 'max', '--shards', String(SHARDS)];
const RUN_ARGS = [...RUN, '--devices', String(DEVICES), '--days', String(DAYS)];
const START_MS = Date.UTC(2025, 0, 1);
const END_MS = START_MS + DAYS * 86_400_000;
const LANES = laneLayout(SHARDS, DEVICES);
/** The producer's most devices (PRODUCER_DEVICES ≤ 10,000), for bytes per reading. */
const WIDE_DEVICES = 10_000;
const WIDE_INTERVAL_MS = 600_000;
const NODE_ARGS = ['--stream-node-max-entries', '1000', '--stream-node-max-bytes', '0'];
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** One server of a run, with a plain connection (INFO and scripts answer for one node). */
interface Server {
  name: string;
  redis: Redis;
}

/** What one master did during a run. */
interface MasterShare {
  name: string;
  /** Entries it holds after the run (readings, or redis-benchmark's XADDs). */
  readings: number;
  /** CPU seconds it used (INFO cpu). */
  cpu: number;
  /** Bytes it sent down its replication stream (master_repl_offset). */
  replBytes: number;
  /** Bytes it read from its clients (total_net_input_bytes). */
  netIn: number;
  /** Growth of used_memory. */
  memory: number;
}

/** What one run measured. */
interface Run {
  rate: number;
  masters: MasterShare[];
  replicaCpu: number;
  /** CPU seconds of the client process (producer or aggregator); null for redis-benchmark. */
  clientCpu: number | null;
  /** With REDIS_WAIT_REPLICAS: lanes confirmed to the run's end, and WAITs logged as short. */
  confirmedLanes?: number;
  shortWaits?: number;
}

interface Setup {
  label: string;
  url: string;
  masters: Server[];
  replicas: Server[];
  /** A client for keys by name (the cluster client on the cluster). */
  keys: Redis | Cluster;
}

async function main(): Promise<void> {
  const single = await startPrivateRedis({ args: NODE_ARGS });
  // A master starved of CPU for the kit's 2 s node timeout would be failed over mid-run on a busy
  // machine, and every per-master figure would mix two servers: a benchmark waits far longer.
  const cluster = await startRedisCluster({
    masters: 3,
    replicas: 1,
    args: [...NODE_ARGS, '--cluster-node-timeout', '60000'],
  });
  const connect = (node: { url: string; port: number }): Server => ({
    name: String(node.port),
    redis: new Redis(node.url, { maxRetriesPerRequest: 1 }),
  });
  const one: Setup = {
    label: 'one node',
    url: single.url,
    masters: [connect(single)],
    replicas: [],
    keys: single.client(),
  };
  const masters = await cluster.masters();
  const three: Setup = {
    label: 'cluster',
    url: cluster.url,
    masters: masters.map(connect),
    replicas: (await cluster.replicas()).map(connect),
    keys: new Cluster([{ host: '127.0.0.1', port: masters[0].port }]),
  };
  // A failed command rejects by itself; the client's error events would only repeat it.
  three.keys.on('error', () => undefined);
  const runs: Record<string, Run[]> = {};
  const record = (name: string, run: Run) => (runs[name] ??= []).push(run);
  let stored = 0;
  let wide = 0;
  let fork: ForkFigures[] = [];
  let freeing: FreeFigures[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      record(XADD_ONE, await reference(one, single.port, false));
      record('producer, one node', await producerRun(one));
      record('aggregator, one node', await aggregatorRun(one));
      record(XADD_CLUSTER, await reference(three, masters[0].port, true));
      // The two cluster runs swap places every round, so neither always follows the reference;
      // the aggregator reads the run without WAIT, whose every reading is readable at its end.
      for (const wait of round % 2 === 1 ? [false, true] : [true, false]) {
        if (wait) {
          record(WAIT_RUN, await producerRun(three, true));
        } else {
          record('producer, cluster', await producerRun(three));
          stored = await memoryUsage(three);
          record('aggregator, cluster', await aggregatorRun(three));
        }
      }
      console.log(
        `round ${round}: ` +
          Object.entries(runs)
            .map(([name, all]) => `${name} ${fmt(all[all.length - 1].rate)}/s`)
            .join(' | '),
      );
    }
    wide = await widestLanes(one);
    fork = await forkUnderLoad(three);
    freeing = await freePartitions(three);
    const after = (await cluster.masters()).map((node) => node.port);
    if (after.join() !== masters.map((node) => node.port).join()) {
      throw new Error(`the masters changed during the run: ${after.join(', ')}`);
    }
  } finally {
    for (const server of [...one.masters, ...three.masters, ...three.replicas]) {
      server.redis.disconnect();
    }
    three.keys.disconnect();
    await cluster.stop();
    await single.stop();
  }
  report(runs, { stored, wide }, fork, freeing);
}

const XADD_ONE = 'redis-benchmark XADD, one node';
const XADD_CLUSTER = 'redis-benchmark --cluster XADD';
const WAIT_RUN = 'producer, cluster, REDIS_WAIT_REPLICAS=1';

/** A run's figures per reading, summed over its masters. */
function perReading(run: Run) {
  const sum = (f: (m: MasterShare) => number) => run.masters.reduce((n, m) => n + f(m), 0);
  const readings = sum((m) => m.readings);
  return {
    masterCpuPerM: (sum((m) => m.cpu) / readings) * 1e6,
    perCpuSecond: readings / sum((m) => m.cpu),
    replicaCpuPerM: (run.replicaCpu / readings) * 1e6,
    replBytes: sum((m) => m.replBytes) / readings,
    netIn: sum((m) => m.netIn) / readings,
    memory: sum((m) => m.memory) / readings,
    clientCpuPerM: run.clientCpu === null ? null : (run.clientCpu / readings) * 1e6,
  };
}

function report(
  runs: Record<string, Run[]>,
  bytes: { stored: number; wide: number },
  fork: ForkFigures[],
  freeing: FreeFigures[],
): void {
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const rounds = runs[XADD_ONE].length;
  console.log(
    `\n${fmt(READINGS)} readings (${DEVICES} devices, ${DAYS} day${DAYS > 1 ? 's' : ''}, ` +
      `--shards ${SHARDS}, --speed max), median of ${rounds} round${rounds > 1 ? 's' : ''}; ` +
      'a ratio is taken in each round against the XADD reference on the same servers:',
  );
  console.log(
    '| run | readings/s | ÷ XADD | master CPU s per M readings | readings per master CPU-s | ÷ XADD |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  const rows = Object.entries(runs).map(([name, all]) => {
    const reference = runs[name.includes('one node') ? XADD_ONE : XADD_CLUSTER];
    const med = (f: (run: Run, i: number) => number) => median(all.map(f));
    return { name, all, reference, med };
  });
  for (const { name, reference, med } of rows) {
    // An aggregator reads what a producer wrote: no XADD ratio means anything for it.
    const ratio = (f: (run: Run, i: number) => number) =>
      name.startsWith('aggregator') ? '–' : med(f).toFixed(2);
    console.log(
      `| ${name} | ${fmt(med((r) => r.rate))} | ${ratio((r, i) => r.rate / reference[i].rate)} | ` +
        `${med((r) => perReading(r).masterCpuPerM).toFixed(2)} | ` +
        `${fmt(med((r) => perReading(r).perCpuSecond))} | ` +
        `${ratio((r, i) => perReading(r).perCpuSecond / perReading(reference[i]).perCpuSecond)} |`,
    );
  }
  console.log('\nper reading, same runs (medians):');
  console.log(
    '| run | client CPU s per M readings | replica CPU s per M readings | replication stream B | client → master B | used_memory growth B |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const { name, all, med } of rows) {
    const client = all.map((r) => perReading(r).clientCpuPerM);
    const cluster = !name.includes('one node');
    console.log(
      `| ${name} | ${client.every((c) => c !== null) ? median(client as number[]).toFixed(2) : '–'} | ` +
        `${cluster ? med((r) => perReading(r).replicaCpuPerM).toFixed(2) : '–'} | ` +
        `${cluster ? med((r) => perReading(r).replBytes).toFixed(1) : '–'} | ` +
        `${med((r) => perReading(r).netIn).toFixed(1)} | ` +
        `${name.startsWith('aggregator') ? '–' : med((r) => perReading(r).memory).toFixed(1)} |`,
    );
  }
  const waits = runs[WAIT_RUN];
  console.log(
    `\n${WAIT_RUN}: lanes confirmed to the run's end, by round: ` +
      `${waits.map((r) => `${r.confirmedLanes} of ${SHARDS}`).join(', ')}; ` +
      `WAITs logged as short: ${waits.map((r) => r.shortWaits).join(', ')}`,
  );
  console.log(
    `\nbytes per reading on the cluster (MEMORY USAGE of every lane partition ÷ readings, ` +
      `${DEVICES / SHARDS} device${DEVICES > SHARDS ? 's' : ''} a lane, numeric device_id): ${bytes.stored.toFixed(1)}; ` +
      `${fmt(WIDE_DEVICES)} devices (${fmt(WIDE_DEVICES / SHARDS)} a lane, device_id up to ${fmt(WIDE_DEVICES - 1)}, ` +
      `a reading every ${WIDE_INTERVAL_MS / 60_000} minutes, one day) on one node: ${bytes.wide.toFixed(1)}`,
  );
  console.log(
    '\nBGSAVE on every master half-way through a cluster run (the producer writing at full speed):',
  );
  console.log(
    '| master | used_memory at the fork | fork | save | readings written during the save | copy-on-write | per reading written |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const f of fork) {
    console.log(
      `| ${f.master} | ${(f.usedBytes / 2 ** 20).toFixed(1)} MiB | ${(f.forkUs / 1000).toFixed(1)} ms | ` +
        `${fmt(f.saveMs)} ms | ${fmt(f.written)} | ${(f.cowBytes / 2 ** 20).toFixed(1)} MiB | ` +
        `${f.written > 0 ? `${fmt(f.cowBytes / f.written)} B` : '–'} |`,
    );
  }
  console.log(
    `fragmentation at the end of that run, after ${ROUNDS * 3 + 1} rounds of FLUSHALL and refill: ` +
      fork
        .map(
          (f) =>
            `${f.master} allocator_frag_ratio ${f.allocatorFrag.toFixed(2)}, ` +
            `mem_fragmentation_ratio ${f.memFrag.toFixed(2)}`,
        )
        .join(' | '),
  );
  console.log('\nfreeing a partition on the main thread (DEL, INFO commandstats), as expiry does:');
  for (const f of freeing) {
    console.log(
      `${f.master}: ${f.key}, ${fmt(f.entries)} readings in ${(f.usec / 1000).toFixed(2)} ms ` +
        `(${((f.usec * 1000) / f.entries).toFixed(1)} ns a reading)`,
    );
  }
  console.log(
    SMOKE
      ? '(smoke run: no figure asserted)'
      : '(no speed-up asserted: seven server processes and the clients share this machine)',
  );
}

function infoNumber(info: string, field: string): number {
  const value = new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1];
  if (value === undefined) throw new Error(`INFO has no ${field}`);
  return Number(value);
}

/** Entries of the streams matching `pattern` on one node, counted inside Redis. */
async function entriesOn(server: Server, pattern: string): Promise<number> {
  return (await server.redis.eval(
    "local n=0 for _,k in ipairs(redis.call('KEYS',ARGV[1])) do n=n+redis.call('XLEN',k) end return n",
    0,
    pattern,
  )) as number;
}

/** Empties the servers and waits until every replica has applied the flush. */
async function reset(setup: Setup): Promise<void> {
  await Promise.all(setup.masters.map((m) => m.redis.flushall()));
  await settled(setup);
}

/** Every replica has applied everything its master sent (it has done its share of a run). */
async function settled(setup: Setup): Promise<void> {
  for (;;) {
    const behind = await Promise.all(
      setup.masters.map(async (m) => {
        const info = await m.redis.info('replication');
        const offsets = [...info.matchAll(/^slave\d+:.*,offset=(\d+)/gm)].map((r) => Number(r[1]));
        return offsets.some((offset) => offset !== infoNumber(info, 'master_repl_offset'));
      }),
    );
    if (!behind.includes(true)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The counters a run is measured by, on every server. */
async function snapshot(setup: Setup) {
  const cpu = (info: string) =>
    infoNumber(info, 'used_cpu_sys') + infoNumber(info, 'used_cpu_user');
  const masters = await Promise.all(
    setup.masters.map(async (m) => {
      const info = await m.redis.info();
      return {
        cpu: cpu(info),
        replOffset: infoNumber(info, 'master_repl_offset'),
        netIn: infoNumber(info, 'total_net_input_bytes'),
        memory: infoNumber(info, 'used_memory'),
      };
    }),
  );
  const replicaCpu = await Promise.all(setup.replicas.map(async (r) => cpu(await r.redis.info())));
  return { masters, replicaCpu };
}

/** A run's figures: the counters' growth since `before`, once the replicas have caught up. */
async function measured(
  setup: Setup,
  before: Awaited<ReturnType<typeof snapshot>>,
  rate: number,
  pattern: string,
  clientCpu: number | null,
): Promise<Run> {
  await settled(setup);
  const after = await snapshot(setup);
  const masters = await Promise.all(
    setup.masters.map(async (m, i): Promise<MasterShare> => ({
      name: m.name,
      readings: await entriesOn(m, pattern),
      cpu: after.masters[i].cpu - before.masters[i].cpu,
      replBytes: after.masters[i].replOffset - before.masters[i].replOffset,
      netIn: after.masters[i].netIn - before.masters[i].netIn,
      memory: after.masters[i].memory - before.masters[i].memory,
    })),
  );
  const replicaCpu = after.replicaCpu.reduce((sum, cpu, i) => sum + cpu - before.replicaCpu[i], 0);
  return { rate, masters, replicaCpu, clientCpu };
}

/** redis-benchmark's pipelined XADD of as many entries as the producer writes. */
async function reference(setup: Setup, port: number, cluster: boolean): Promise<Run> {
  await reset(setup);
  const before = await snapshot(setup);
  const rate = xaddReference(port, READINGS, cluster);
  // Each client sends whole pipelines of 1,000, so it may write up to 999 more: the per-entry
  // figures divide by what was counted.
  const run = await measured(setup, before, rate, 's*', null);
  const written = run.masters.reduce((sum, m) => sum + m.readings, 0);
  if (written < READINGS)
    throw new Error(`redis-benchmark wrote ${written} of ${READINGS} entries`);
  return run;
}

/**
 * The CPU seconds a process has used, read from /proc every 50 ms: `now()` is the latest sample,
 * `stop()` the last one before it exited (it misses at most 50 ms of its work).
 */
function watchCpu(pid: number): { now: () => number; stop: () => number } {
  let last = 0;
  const read = () => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      last = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    } catch {
      // Gone: the last sample stands.
    }
    return last;
  };
  read();
  const timer = setInterval(read, 50);
  return {
    now: read,
    stop: () => {
      clearInterval(timer);
      return last;
    },
  };
}

/**
 * One producer writing the run from scratch. Its rate and CPU run from its "Producer … in run"
 * line (Node and Nest started, the run created) to its exit: every lane written and, with WAIT,
 * confirmed.
 */
async function producerRun(setup: Setup, waitReplicas = false): Promise<Run> {
  await reset(setup);
  const before = await snapshot(setup);
  const producer = new ServiceProcess('producer', RUN_ARGS, {
    REDIS_URL: setup.url,
    ...(waitReplicas ? { REDIS_WAIT_REPLICAS: '1' } : {}),
  });
  const cpu = watchCpu(producer.pid);
  await producer.waitFor(/Producer \S+ in run/, 60_000);
  const from = performance.now();
  const cpuFrom = cpu.now();
  const finished = await producer.exited;
  const to = performance.now();
  const clientCpu = cpu.stop() - cpuFrom;
  if (finished.code !== 0) throw new Error(`producer failed: ${finished.stderr}`);
  const run = await measured(setup, before, READINGS / ((to - from) / 1000), 'temps:2*', clientCpu);
  const stored = run.masters.reduce((sum, m) => sum + m.readings, 0);
  if (stored !== READINGS) {
    throw new Error(`producer on ${setup.label}: ${stored} entries, not ${READINGS}`);
  }
  if (waitReplicas) {
    // A bounded run keeps confirming for up to 10 s before it exits; a replica starved for longer
    // on a busy machine leaves lanes unconfirmed, which is the producer's report, not a failure.
    const marks = await Promise.all(
      LANES.map((lane) =>
        setup.keys.hget(LaneStateHash.keyOf(lane.tag), LaneStateHash.FIELDS.confirmedMs),
      ),
    );
    run.confirmedLanes = marks.filter((mark) => Number(mark) === END_MS).length;
    run.shortWaits = (finished.stdout + finished.stderr).split('replicas acknowledged').length - 1;
  }
  return run;
}

/**
 * The lanes aggregator over the run the producer left, from its first "Starting aggregating
 * consumer" line until the run's last hour is on temps:averages; every reading must be in the
 * averages' num_observations.
 */
async function aggregatorRun(setup: Setup): Promise<Run> {
  await settled(setup);
  const before = await snapshot(setup);
  const aggregator = new ServiceProcess('aggregator', ['--from-oldest'], {
    REDIS_URL: setup.url,
    PRODUCER_SHARDS: String(SHARDS),
    PORT: String(await freePort()),
  });
  const cpu = watchCpu(aggregator.pid);
  await aggregator.waitFor('Starting aggregating consumer', 60_000);
  const from = performance.now();
  const cpuFrom = cpu.now();
  const last = `${END_MS - 3_600_000}-0`;
  for (;;) {
    const [top] = await setup.keys.xrevrange('temps:averages', '+', '-', 'COUNT', 1);
    if (top?.[0] === last) break;
    if (!aggregator.running) throw new Error(`aggregator exited: ${aggregator.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const to = performance.now();
  const clientCpu = cpu.stop() - cpuFrom;
  await aggregator.kill('SIGTERM');
  const averages = await setup.keys.xrange('temps:averages', '-', '+');
  const observed = averages.reduce(
    (sum, [, fields]) => sum + Number(fields[fields.indexOf('num_observations') + 1]),
    0,
  );
  if (observed !== READINGS) {
    throw new Error(`aggregator on ${setup.label}: ${observed} observations, not ${READINGS}`);
  }
  return measured(setup, before, READINGS / ((to - from) / 1000), 'temps:2*', clientCpu);
}

/**
 * Bytes per reading with the producer's most devices: a listpack stores a device_id up to 9,999 and
 * an entry's sequence number (up to 1,666 a lane) in more bytes than the few devices of the timed
 * runs do. A reading every 10 minutes keeps it to one day of 1,440,000 readings; an entry whose
 * node began at the instant before stores a 600,000 ms difference, more than at one reading a
 * second, so this errs high.
 */
async function widestLanes(setup: Setup): Promise<number> {
  await reset(setup);
  const args = [
    ...RUN,
    '--devices',
    String(WIDE_DEVICES),
    '--interval-ms',
    String(WIDE_INTERVAL_MS),
  ];
  const finished = await new ServiceProcess('producer', [...args, '--days', '1'], {
    REDIS_URL: setup.url,
  }).exited;
  if (finished.code !== 0) throw new Error(`producer failed: ${finished.stderr}`);
  const readings = (WIDE_DEVICES * 86_400_000) / WIDE_INTERVAL_MS;
  const stored = await entriesOn(setup.masters[0], 'temps:2*');
  if (stored !== readings)
    throw new Error(`${WIDE_DEVICES} devices: ${stored} entries, not ${readings}`);
  return memoryUsage(setup, readings);
}

/** MEMORY USAGE of every lane partition, over the readings they hold. */
async function memoryUsage(setup: Setup, readings = READINGS): Promise<number> {
  const used = await Promise.all(
    setup.masters.map(
      (m) =>
        m.redis.eval(
          "local n=0 for _,k in ipairs(redis.call('KEYS','temps:2*')) do n=n+redis.call('MEMORY','USAGE',k,'SAMPLES',0) end return n",
          0,
        ) as Promise<number>,
    ),
  );
  return used.reduce((sum, bytes) => sum + bytes, 0) / readings;
}

interface ForkFigures {
  master: string;
  usedBytes: number;
  forkUs: number;
  saveMs: number;
  written: number;
  cowBytes: number;
  /** INFO memory once the run has ended: jemalloc's own, and RSS over used_memory. */
  allocatorFrag: number;
  memFrag: number;
}

/**
 * A cluster run with a BGSAVE on every master once every lane is half-way: how long the fork
 * stops the master (latest_fork_usec), how long the save runs, and how much memory the master's
 * writes meanwhile copied (rdb_last_cow_size) — the headroom a fork (a save, or a replica's full
 * sync) needs under write load.
 */
async function forkUnderLoad(setup: Setup): Promise<ForkFigures[]> {
  await reset(setup);
  const producer = new ServiceProcess('producer', RUN_ARGS, { REDIS_URL: setup.url });
  const half = START_MS + (END_MS - START_MS) / 2;
  for (;;) {
    const marks = await Promise.all(
      LANES.map((lane) =>
        setup.keys.hget(LaneStateHash.keyOf(lane.tag), LaneStateHash.FIELDS.watermarkMs),
      ),
    );
    if (marks.every((ms) => Number(ms) >= half)) break;
    if (!producer.running) throw new Error(`producer ended before half-way: ${producer.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const figures = await Promise.all(
    setup.masters.map(async (m): Promise<Omit<ForkFigures, 'allocatorFrag' | 'memFrag'>> => {
      const usedBytes = infoNumber(await m.redis.info('memory'), 'used_memory');
      const from = await entriesOn(m, 'temps:2*');
      const started = performance.now();
      await m.redis.bgsave();
      for (;;) {
        const info = await m.redis.info('persistence');
        if (infoNumber(info, 'rdb_bgsave_in_progress') === 0) {
          const saveMs = performance.now() - started;
          const written = (await entriesOn(m, 'temps:2*')) - from;
          return {
            master: m.name,
            usedBytes,
            forkUs: infoNumber(await m.redis.info('stats'), 'latest_fork_usec'),
            saveMs,
            written,
            cowBytes: infoNumber(info, 'rdb_last_cow_size'),
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }),
  );
  const finished = await producer.exited;
  if (finished.code !== 0) throw new Error(`producer failed: ${finished.stderr}`);
  return Promise.all(
    figures.map(async (f, i) => {
      const info = await setup.masters[i].redis.info('memory');
      return {
        ...f,
        allocatorFrag: infoNumber(info, 'allocator_frag_ratio'),
        memFrag: infoNumber(info, 'mem_fragmentation_ratio'),
      };
    }),
  );
}

interface FreeFigures {
  master: string;
  key: string;
  entries: number;
  usec: number;
}

/**
 * DEL of each master's first lane partition, timed by Redis itself (INFO commandstats): what an
 * expiring partition costs the main thread with lazyfree-lazy-expire off (Redis 7.0's default).
 */
async function freePartitions(setup: Setup): Promise<FreeFigures[]> {
  const delUsec = async (m: Server) =>
    Number(/^cmdstat_del:.*usec=(\d+)/m.exec(await m.redis.info('commandstats'))?.[1] ?? 0);
  return Promise.all(
    setup.masters.map(async (m): Promise<FreeFigures> => {
      const [key] = ((await m.redis.keys('temps:2*')) as string[]).sort();
      const entries = await m.redis.xlen(key);
      const before = await delUsec(m);
      await m.redis.del(key);
      return { master: m.name, key, entries, usec: (await delUsec(m)) - before };
    }),
  );
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
