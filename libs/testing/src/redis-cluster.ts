import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisServerMissingError } from '@temps/runtime';
import { freePort } from './free-port';

/** One redis-server of a private cluster: the same object for its whole life, restarts included. */
export interface ClusterNode {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** `127.0.0.1:<port>`, as CLUSTER NODES and MOVED replies write it. */
  readonly address: string;
}

export interface RedisClusterOptions {
  /** Masters sharing the 16384 slots evenly, default 3. */
  masters?: number;
  /** Replicas per master, default 1. */
  replicas?: number;
  /** Extra redis-server arguments for every node, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
}

/**
 * A Redis Cluster of our own on 127.0.0.1 for e2e and chaos tests. Topology questions are answered
 * from CLUSTER NODES of a live node; every wait is bounded and fails with what was still missing.
 */
export interface RedisCluster {
  /** Every node, in start order: the first `masters` started as masters, then their replicas. */
  readonly nodes: readonly ClusterNode[];
  /** A seed node's URL (the first node's). */
  readonly url: string;
  /** ms from the first spawn to every master having its replicas in sync (for reports). */
  readonly startedInMs: number;
  /** The masters that own slots and whose process runs, in start order. */
  masters(): Promise<ClusterNode[]>;
  /** The replicas whose process runs, in start order. */
  replicas(): Promise<ClusterNode[]>;
  /** The first running replica of `master` (start order), or null if it has none. */
  replicaOf(master: ClusterNode): Promise<ClusterNode | null>;
  /**
   * The master `slot` (0–16383) belongs to now. A killed master keeps its slots until a replica
   * takes them over; a slot no node owns is an error.
   */
  ownerOf(slot: number): Promise<ClusterNode>;
  /** SIGKILL; resolves once the process has exited. A node already down is left as it is. */
  kill(node: ClusterNode): Promise<void>;
  /**
   * Starts a killed node again on its port, folder and nodes.conf; resolves once it answers and
   * every other running node agrees with it on its role (a former master comes back as a replica
   * of the one promoted in its place). Throws if it is still running, does not answer within 10 s
   * or does not agree with the others within 15 s more.
   */
  restart(node: ClusterNode): Promise<void>;
  /** SIGSTOP: the node answers neither clients nor the cluster bus, and the kit asks it nothing. */
  pause(node: ClusterNode): void;
  /** SIGCONT. */
  resume(node: ClusterNode): void;
  /**
   * Waits until no running node but `formerMaster` itself gives `formerMaster` any slot and each of
   * them says cluster_state:ok; resolves to the ms waited. Default timeout 15 s.
   */
  waitForPromotion(formerMaster: ClusterNode, timeoutMs?: number): Promise<number>;
  /**
   * Graceful CLUSTER FAILOVER sent to `replica`. Resolves, once every running node also sees its
   * former master as its replica, to the ms until every running node saw it as the master.
   * Default timeout 10 s; a master or an unknown node is an error.
   */
  failover(replica: ClusterNode, timeoutMs?: number): Promise<number>;
  /**
   * Moves the lowest `count` slots of `from` to `to` with their keys (SETSLOT IMPORTING/MIGRATING,
   * MIGRATE, SETSLOT NODE, as redis-cli does), while clients may go on writing: they are sent on
   * with ASK and MOVED. Resolves once every running node gives `to` those slots.
   */
  reshard(from: ClusterNode, to: ClusterNode, count: number): Promise<void>;
  /**
   * Waits until every running node says cluster_state:ok with all slots served, and every
   * slot-owning master runs and has `replicas` replicas whose link is up, caught up to the master's
   * offset and listed in every node's CLUSTER SLOTS. Default timeout 20 s.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGKILLs every process ever started for the cluster and removes the scratch folders. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SLOTS = 16384;
/** Redis puts the cluster bus on the client port + 10000. */
const BUS_OFFSET = 10_000;
/** How long a silent node takes to be failed; promotion follows about 1–2 s later. */
const NODE_TIMEOUT_MS = 2_000;
const POLL_MS = 25;
/**
 * All of a start may take: every step waits at most what is left of it, so a start that fails has
 * stopped its processes by then (a caller's own timeout, longer, never leaves them running).
 */
const START_BUDGET_MS = 40_000;
const NODE_ATTEMPTS = 3;
/** Keys moved per MIGRATE while resharding. */
const MIGRATE_BATCH = 100;

/**
 * Starts `masters` × (1 + `replicas`) `redis-server` processes from PATH with cluster mode on, in
 * scratch folders, no RDB snapshots and no append-only file unless `args` say otherwise, gives the
 * masters the slots and waits until the cluster is healthy (20 s at most). Ports come in pairs (the
 * port and its bus port, both below 65536 and never 6379); a port taken meanwhile is retried on
 * another. No redis-server on PATH is a RedisServerMissingError at once.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(masters) || masters < 1 || masters > SLOTS)
    throw new Error(`masters must be an integer from 1 to ${SLOTS}, got ${masters}`);
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new Error(`replicas must be a whole number, got ${replicas}`);
  const cluster = new LocalCluster(masters, replicas, options.args ?? []);
  try {
    await cluster.create();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** A node's line of CLUSTER NODES. */
interface NodeEntry {
  id: string;
  port: number;
  flags: Set<string>;
  /** For a replica, its master's id. */
  masterId: string | null;
  /** Owned slot ranges, inclusive; importing/migrating marks left out. */
  slots: Array<[number, number]>;
}

interface Member {
  readonly node: ClusterNode;
  readonly dir: string;
  /** The node's id; nodes.conf keeps it across restarts. */
  id: string;
  process: ChildProcess;
  paused: boolean;
}

class LocalCluster implements RedisCluster {
  private readonly root = mkdtempSync(join(tmpdir(), 'temps-redis-cluster-'));
  private readonly members: Member[] = [];
  /** Every process ever spawned, so that stop() also kills those of failed starts and restarts. */
  private readonly spawned = new Set<ChildProcess>();
  private stopped = false;
  startedInMs = 0;

  constructor(
    private readonly masterCount: number,
    private readonly replicasPerMaster: number,
    private readonly args: string[],
  ) {}

  get nodes(): readonly ClusterNode[] {
    return this.members.map((member) => member.node);
  }

  get url(): string {
    return this.members[0].node.url;
  }

  async create(): Promise<void> {
    const total = this.masterCount * (1 + this.replicasPerMaster);
    const taken = new Set<number>();
    const began = performance.now();
    const left = () => Math.max(0, began + START_BUDGET_MS - performance.now());
    // allSettled: no start may still be spawning once a failed create() has stopped the rest.
    const started = await Promise.allSettled(
      Array.from({ length: total }, () => this.startMember(taken, left)),
    );
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    const members = started.map((result) => (result as PromiseFulfilledResult<Member>).value);
    this.members.push(...members);

    const masters = members.slice(0, this.masterCount);
    await Promise.all(
      members.map((member, index) =>
        this.admin(member, async (redis) => {
          member.id = String(await redis.call('CLUSTER', 'MYID'));
          // Distinct epochs from the start, as redis-cli gives them: no collisions to settle later.
          await redis.call('CLUSTER', 'SET-CONFIG-EPOCH', index + 1);
          if (index < this.masterCount) {
            const first = Math.floor((index * SLOTS) / this.masterCount);
            const last = Math.floor(((index + 1) * SLOTS) / this.masterCount) - 1;
            await redis.call('CLUSTER', 'ADDSLOTSRANGE', first, last);
          }
        }),
      ),
    );
    // Every pair meets directly: gossip from one seed alone takes 1–2 s to reach every node.
    await Promise.all(
      members.slice(1).map((member, index) =>
        this.admin(member, async (redis) => {
          for (const other of members.slice(0, index + 1))
            await redis.call('CLUSTER', 'MEET', HOST, other.node.port);
        }),
      ),
    );
    // A replica can only follow a master it has heard of.
    await until(
      async () => {
        for (const member of members) {
          const entries = await this.view(member);
          const known = entries.filter((entry) => !entry.flags.has('handshake')).length;
          if (known < total) return `${member.node.address} knows ${known} of ${total} nodes`;
        }
        return null;
      },
      Math.min(10_000, left()),
      'nodes meeting',
    );
    await Promise.all(
      members
        .slice(this.masterCount)
        .map((replica, index) =>
          this.admin(replica, (redis) =>
            redis.call('CLUSTER', 'REPLICATE', masters[index % this.masterCount].id),
          ),
        ),
    );
    if (this.replicasPerMaster > 0) {
      // CLUSTER SLOTS lists a replica only once its replication offset is above 0, and a fresh
      // master's offset stays 0 until its first replication PING (10 s): a write moves it now.
      // FLUSHALL is the one write that needs no key of the master's slots; the cluster is empty.
      await until(
        async () => {
          for (const master of masters) {
            const info = await this.admin(master, (redis) => redis.info('replication'));
            const connected = Number(infoField(info, 'connected_slaves'));
            if (connected < this.replicasPerMaster)
              return `${master.node.address} has ${connected} replicas connected`;
          }
          return null;
        },
        Math.min(10_000, left()),
        'replicas connecting',
      );
      await Promise.all(masters.map((master) => this.admin(master, (redis) => redis.flushall())));
    }
    await this.waitHealthy(Math.min(20_000, left()));
    this.startedInMs = Math.round(performance.now() - began);
  }

  async masters(): Promise<ClusterNode[]> {
    const entries = await this.anyView();
    return this.running(
      entries.filter((entry) => entry.flags.has('master') && entry.slots.length > 0),
    );
  }

  async replicas(): Promise<ClusterNode[]> {
    const entries = await this.anyView();
    return this.running(entries.filter((entry) => entry.flags.has('slave')));
  }

  async replicaOf(master: ClusterNode): Promise<ClusterNode | null> {
    const { id } = this.member(master);
    const entries = await this.anyView();
    const replicas = this.running(
      entries.filter((entry) => entry.flags.has('slave') && entry.masterId === id),
    );
    return replicas[0] ?? null;
  }

  async ownerOf(slot: number): Promise<ClusterNode> {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS)
      throw new Error(`a slot is an integer from 0 to ${SLOTS - 1}, got ${slot}`);
    const entries = await this.anyView();
    const owner = entries.find(
      (entry) =>
        entry.flags.has('master') &&
        entry.slots.some(([first, last]) => first <= slot && slot <= last),
    );
    if (!owner) throw new Error(`no node owns slot ${slot}`);
    return this.byId(owner.id).node;
  }

  async kill(node: ClusterNode): Promise<void> {
    const member = this.member(node);
    await killed(member.process);
    member.paused = false;
  }

  async restart(node: ClusterNode): Promise<void> {
    const member = this.member(node);
    if (isRunning(member.process))
      throw new Error(`${node.address} is still running: kill it before restarting it`);
    member.process = this.spawnNode(node.port, member.dir);
    member.paused = false;
    try {
      await answering(node.port, member.process, 10_000);
    } catch (error) {
      await killed(member.process);
      // The port is the node's identity in the cluster: another one would be a different node.
      throw new Error(`${node.address} did not start again: ${(error as Error).message}`);
    }
    await until(() => this.roleAgreed(member), 15_000, `${node.address} rejoining`);
  }

  pause(node: ClusterNode): void {
    const member = this.member(node);
    if (!isRunning(member.process)) throw new Error(`${node.address} is not running`);
    member.process.kill('SIGSTOP');
    member.paused = true;
  }

  resume(node: ClusterNode): void {
    const member = this.member(node);
    if (isRunning(member.process)) member.process.kill('SIGCONT');
    member.paused = false;
  }

  waitForPromotion(formerMaster: ClusterNode, timeoutMs = 15_000): Promise<number> {
    const { id } = this.member(formerMaster);
    return until(
      async () => {
        for (const member of this.live()) {
          if (member.node === formerMaster) continue;
          const state = await this.clusterState(member);
          if (state) return state;
          const entries = await this.view(member);
          if (entries.some((entry) => entry.id === id && entry.slots.length > 0))
            return `${member.node.address} still gives ${formerMaster.address} slots`;
        }
        return null;
      },
      timeoutMs,
      `promotion in place of ${formerMaster.address}`,
    );
  }

  async failover(replica: ClusterNode, timeoutMs = 10_000): Promise<number> {
    const member = this.member(replica);
    const own = (await this.view(member)).find((entry) => entry.flags.has('myself'));
    if (!own?.flags.has('slave') || !own.masterId)
      throw new Error(`${replica.address} is not a replica: CLUSTER FAILOVER needs one`);
    const formerId = own.masterId;
    const began = performance.now();
    await this.admin(member, (redis) => redis.call('CLUSTER', 'FAILOVER'));
    const promotedIn = await until(
      () =>
        this.everyView((entries, asker) => {
          const entry = entries.find((candidate) => candidate.id === member.id);
          return entry?.flags.has('master') && entry.slots.length > 0
            ? null
            : `${asker.address} does not see ${replica.address} as a master yet`;
        }),
      timeoutMs,
      `failover to ${replica.address}`,
    );
    // Until the former master follows it, "which replica does it have" gets different answers.
    await until(
      () =>
        this.everyView((entries, asker) => {
          const former = entries.find((entry) => entry.id === formerId);
          return former?.flags.has('slave') && former.masterId === member.id
            ? null
            : `${asker.address} does not see the former master as ${replica.address}'s replica yet`;
        }),
      Math.max(0, timeoutMs - (performance.now() - began)),
      `failover to ${replica.address}`,
    );
    return promotedIn;
  }

  async reshard(from: ClusterNode, to: ClusterNode, count: number): Promise<void> {
    if (from === to) throw new Error('reshard needs two different masters');
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`count must be a positive integer, got ${count}`);
    const source = this.member(from);
    const target = this.member(to);
    const entries = await this.anyView();
    const sourceEntry = entries.find((entry) => entry.id === source.id);
    if (!entries.find((entry) => entry.id === target.id)?.flags.has('master'))
      throw new Error(`${to.address} is not a master`);
    const owned = (sourceEntry?.slots ?? []).flatMap(([first, last]) =>
      Array.from({ length: last - first + 1 }, (_, offset) => first + offset),
    );
    if (owned.length < count)
      throw new Error(`${from.address} owns ${owned.length} slots, fewer than ${count}`);
    const moved = owned.sort((a, b) => a - b).slice(0, count);
    // A paused master is left out: it learns the new owners from the others once resumed.
    const live = new Set(this.live().map((member) => member.id));
    const others = entries
      .filter((entry) => entry.flags.has('master') && live.has(entry.id))
      .filter((entry) => entry.id !== source.id && entry.id !== target.id)
      .map((entry) => this.byId(entry.id).node);
    const connections: Redis[] = [];
    try {
      for (const node of [to, from, ...others]) connections.push(await connect(node.port, 60_000));
      const [toRedis, fromRedis] = connections;
      for (const slot of moved) {
        await toRedis.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
        await fromRedis.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
        // While MIGRATING the source takes no new keys in the slot (ASK sends them on), so once
        // GETKEYSINSLOT is empty it stays empty.
        for (;;) {
          const keys = (await fromRedis.call(
            'CLUSTER',
            'GETKEYSINSLOT',
            slot,
            MIGRATE_BATCH,
          )) as string[];
          if (keys.length === 0) break;
          // REPLACE: a reshard cut short can leave a copy on the target; the source's is current.
          await fromRedis.call('MIGRATE', HOST, to.port, '', 0, 30_000, 'REPLACE', 'KEYS', ...keys);
        }
        // Target first, as the SETSLOT docs say: it then no longer needs ASKING for the slot.
        await toRedis.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
        await fromRedis.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
        // The other masters only hear it sooner: one that turned replica meanwhile (a failover
        // the view had not caught up with) refuses, and learns it by gossip instead.
        for (const redis of connections.slice(2)) {
          await redis.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id).catch(() => undefined);
        }
      }
    } finally {
      connections.forEach((redis) => redis.disconnect());
    }
    await until(
      () =>
        this.everyView((view, asker) => {
          const owner = view.find((entry) => entry.id === target.id);
          const missing = moved.find(
            (slot) => !owner?.slots.some(([first, last]) => first <= slot && slot <= last),
          );
          return missing === undefined
            ? null
            : `${asker.address} does not give slot ${missing} to ${to.address} yet`;
        }),
      10_000,
      `reshard to ${to.address}`,
    );
  }

  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await until(() => this.unhealthy(), timeoutMs, 'a healthy cluster');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.spawned].map(killed));
    rmSync(this.root, { recursive: true, force: true });
  }

  /** What keeps the cluster from being healthy, or null. */
  private async unhealthy(): Promise<string | null> {
    const live = this.live();
    for (const member of live) {
      const state = await this.clusterState(member);
      if (state) return state;
    }
    const entries = await this.anyView();
    const masters = entries.filter((entry) => entry.flags.has('master') && entry.slots.length > 0);
    const layouts = await Promise.all(live.map((member) => this.slotLayout(member)));
    for (const entry of masters) {
      const master = this.byId(entry.id);
      if (!live.includes(master)) return `master ${master.node.address} is down or paused`;
      const replicas = entries
        .filter((other) => other.flags.has('slave') && other.masterId === entry.id)
        .map((other) => this.byId(other.id))
        .filter((replica) => live.includes(replica));
      if (replicas.length < this.replicasPerMaster)
        return `${master.node.address} has ${replicas.length}/${this.replicasPerMaster} replicas`;
      // The master's offset first: a replica at or past it has everything written before the check.
      const masterInfo = await this.admin(master, (redis) => redis.info('replication'));
      const offset = Number(infoField(masterInfo, 'master_repl_offset'));
      for (const replica of replicas) {
        const where = `replica ${replica.node.address} of ${master.node.address}`;
        if (
          !new RegExp(`^slave\\d+:ip=[^,]*,port=${replica.node.port},state=online`, 'm').test(
            masterInfo,
          )
        )
          return `${where} is not online at its master`;
        const info = await this.admin(replica, (redis) => redis.info('replication'));
        if (infoField(info, 'master_link_status') !== 'up') return `${where} has its link down`;
        if (infoField(info, 'master_sync_in_progress') !== '0') return `${where} is syncing`;
        const replicated = Number(infoField(info, 'slave_repl_offset'));
        if (!(replicated >= offset)) return `${where} is at offset ${replicated} of ${offset}`;
        // ioredis and other clients learn replicas from CLUSTER SLOTS, which lists one a few
        // hundred ms after cluster_state:ok.
        for (const [index, layout] of layouts.entries()) {
          const [first] = entry.slots[0];
          const served = layout.find((range) => range.first <= first && first <= range.last);
          if (!served?.replicaPorts.includes(replica.node.port))
            return `${live[index].node.address}'s CLUSTER SLOTS does not list ${where}`;
        }
      }
    }
    return null;
  }

  /** Why `member` disagrees with the other running nodes on its own role, or null. */
  private async roleAgreed(member: Member): Promise<string | null> {
    const own = (await this.view(member)).find((entry) => entry.flags.has('myself'));
    if (!own) return `${member.node.address} does not list itself`;
    const role = own.flags.has('master') ? 'master' : 'slave';
    if (!own.flags.has(role)) return `${member.node.address} has no role yet`;
    const slots = JSON.stringify(own.slots);
    return this.everyView((entries, asker) => {
      if (asker === member.node) return null;
      const seen = entries.find((entry) => entry.id === member.id);
      if (!seen) return `${asker.address} does not know ${member.node.address}`;
      if (seen.flags.has('fail') || seen.flags.has('fail?'))
        return `${asker.address} still has ${member.node.address} as failing`;
      if (!seen.flags.has(role) || seen.masterId !== own.masterId)
        return `${asker.address} and ${member.node.address} disagree on its role`;
      if (JSON.stringify(seen.slots) !== slots)
        return `${asker.address} and ${member.node.address} disagree on its slots`;
      return null;
    });
  }

  /** What CLUSTER INFO of `member` says is wrong, or null: cluster_state:ok, every slot served. */
  private async clusterState(member: Member): Promise<string | null> {
    const info = String(await this.admin(member, (redis) => redis.call('CLUSTER', 'INFO')));
    if (infoField(info, 'cluster_state') !== 'ok')
      return `${member.node.address} says cluster_state:${infoField(info, 'cluster_state')}`;
    const served = Number(infoField(info, 'cluster_slots_ok'));
    if (served !== SLOTS) return `${member.node.address} has ${served} of ${SLOTS} slots served`;
    return null;
  }

  private async slotLayout(
    member: Member,
  ): Promise<Array<{ first: number; last: number; replicaPorts: number[] }>> {
    const ranges = (await this.admin(member, (redis) => redis.call('CLUSTER', 'SLOTS'))) as Array<
      [number, number, ...Array<[string, number, ...unknown[]]>]
    >;
    return ranges.map(([first, last, , ...replicas]) => ({
      first,
      last,
      replicaPorts: replicas.map(([, port]) => Number(port)),
    }));
  }

  /** Runs `check` on every running node's CLUSTER NODES; the first complaint, or null. */
  private async everyView(
    check: (entries: NodeEntry[], asker: ClusterNode) => string | null,
  ): Promise<string | null> {
    for (const member of this.live()) {
      const complaint = check(await this.view(member), member.node);
      if (complaint) return complaint;
    }
    return null;
  }

  /** CLUSTER NODES of the first running node that answers. */
  private async anyView(): Promise<NodeEntry[]> {
    let last: unknown = new Error('every node is down or paused');
    for (const member of this.live()) {
      try {
        return await this.view(member);
      } catch (error) {
        last = error;
      }
    }
    throw last;
  }

  private async view(member: Member): Promise<NodeEntry[]> {
    return parseClusterNodes(
      String(await this.admin(member, (redis) => redis.call('CLUSTER', 'NODES'))),
    );
  }

  private async admin<T>(member: Member, use: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = await connect(member.node.port);
    try {
      return await use(redis);
    } finally {
      redis.disconnect();
    }
  }

  /** Nodes whose process runs and is not paused: the ones that can be asked. */
  private live(): Member[] {
    return this.members.filter((member) => isRunning(member.process) && !member.paused);
  }

  /** The nodes of `entries` whose process runs (paused or not), in start order. */
  private running(entries: NodeEntry[]): ClusterNode[] {
    const ids = new Set(entries.map((entry) => entry.id));
    return this.members
      .filter((member) => ids.has(member.id) && isRunning(member.process))
      .map((member) => member.node);
  }

  private member(node: ClusterNode): Member {
    const member = this.members.find((candidate) => candidate.node.port === node.port);
    if (!member) throw new Error(`${node.address} is not a node of this cluster`);
    return member;
  }

  private byId(id: string): Member {
    const member = this.members.find((candidate) => candidate.id === id);
    if (!member) throw new Error(`node ${id} is not one this cluster started`);
    return member;
  }

  /** Starts one node on a free port pair, on another pair if its port is taken meanwhile. */
  private async startMember(taken: Set<number>, left: () => number): Promise<Member> {
    for (let attempt = 1; ; attempt++) {
      const port = await clusterPort(taken);
      const dir = join(this.root, String(port));
      mkdirSync(dir);
      const child = this.spawnNode(port, dir);
      try {
        await answering(port, child, Math.min(10_000, left()));
        const node = { port, url: `redis://${HOST}:${port}`, address: `${HOST}:${port}` };
        return { node, dir, id: '', process: child, paused: false };
      } catch (error) {
        await killed(child);
        rmSync(dir, { recursive: true, force: true });
        if (error instanceof RedisServerMissingError || attempt >= NODE_ATTEMPTS || !left())
          throw error;
      }
    }
  }

  private spawnNode(port: number, dir: string): ChildProcess {
    if (this.stopped) throw new Error('the cluster was stopped');
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        String(NODE_TIMEOUT_MS),
        // A new or returning replica gets its copy at once instead of after the default 5 s.
        '--repl-diskless-sync-delay',
        '0',
        '--save',
        '',
        '--appendonly',
        'no',
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    this.spawned.add(child);
    return child;
  }
}

function parseClusterNodes(text: string): NodeEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      return {
        id,
        // ip:port@busport[,hostname]; the ip is empty until the node has learned it.
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        flags: new Set(flags.split(',')),
        masterId: master === '-' ? null : master,
        slots: slots
          .filter((slot) => !slot.startsWith('['))
          .map((slot) => {
            const [first, last = first] = slot.split('-').map(Number);
            return [first, last] as [number, number];
          }),
      };
    });
}

function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1];
}

/**
 * An admin connection that fails fast: no reconnects, no queueing, `commandTimeoutMs` per command
 * (2 s; a reshard's MIGRATE of a stream of megabytes on a loaded machine needs more).
 */
async function connect(port: number, commandTimeoutMs = 2_000): Promise<Redis> {
  const redis = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    commandTimeout: commandTimeoutMs,
    // The ready check's INFO has no timeout: a node paused meanwhile would hang connect() for good.
    enableReadyCheck: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    // A refused connection has ended already: disconnect() would leave a 2 s timer waiting for a
    // close that came before it (and keep jest from exiting).
    if (redis.status !== 'end') redis.disconnect();
    throw error;
  }
  return redis;
}

/**
 * A free port whose bus port (+10000) is free too, neither used by the cluster already nor 6379
 * (the shared Redis). `taken` gets both at once, so concurrent starts never pick the same pair.
 */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = await freePort();
    const bus = port + BUS_OFFSET;
    if (bus > 65_535 || [port, bus].some((used) => taken.has(used) || used === 6379)) continue;
    taken.add(port).add(bus);
    if (await isFree(bus)) return port;
  }
  throw new Error(`no free port below ${65_536 - BUS_OFFSET} with a free bus port on ${HOST}`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/**
 * Resolves once `child` answers on `port`, within `timeoutMs`. A port someone else holds makes
 * redis-server exit, or another process answer: both are errors. No binary is a
 * RedisServerMissingError.
 */
async function answering(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  let ended: Error | null = null;
  child.once('exit', () => {
    ended ??= new Error(
      `redis-server exited at once (port ${port} or ${port + BUS_OFFSET} taken?)`,
    );
  });
  child.once('error', (error) => {
    ended = new RedisServerMissingError(
      `Cannot start redis-server (install Debian's redis-server): ${error.message}`,
    );
  });
  await until(
    async () => {
      if (ended) throw ended;
      const redis = await connect(port);
      try {
        const serving = Number(infoField(await redis.info('server'), 'process_id'));
        if (serving !== child.pid) throw new Error(`port ${port} taken by process ${serving}`);
        return null;
      } finally {
        redis.disconnect();
      }
    },
    timeoutMs,
    `redis-server on ${port}`,
    (error) => error === ended || /taken by process/.test(error.message),
  );
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

async function killed(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // SIGKILL ends a stopped (paused) process too.
  child.kill('SIGKILL');
  await exited;
}

/**
 * Polls `check` until it returns null; resolves to the ms that took. A check that throws counts
 * as not yet (a node may be restarting), unless `fatal` says the error is final. Past `timeoutMs`,
 * throws with the last complaint.
 */
async function until(
  check: () => Promise<string | null>,
  timeoutMs: number,
  what: string,
  fatal: (error: Error) => boolean = () => false,
): Promise<number> {
  const began = performance.now();
  for (;;) {
    let complaint: string;
    try {
      const result = await check();
      if (result === null) return Math.round(performance.now() - began);
      complaint = result;
    } catch (error) {
      if (fatal(error as Error)) throw error;
      complaint = (error as Error).message;
    }
    if (performance.now() - began > timeoutMs)
      throw new Error(`${what}: not within ${timeoutMs} ms (${complaint})`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
