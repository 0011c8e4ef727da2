import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseClusterNodes, parseInfo, splitSlots, type ClusterNodeEntry } from './cluster-nodes';
import {
  DevClusterError,
  DevClusterStateError,
  DevClusterTimeoutError,
  RedisNotInstalledError,
  UnknownNodeError,
} from './errors';
import type { NodeBackend, NodeSignal } from './node-backend';
import { DockerNode, dockerAvailable } from './node-docker';
import { ProcessNode, redisServerVersion } from './node-process';
import { resolveDevClusterOptions, type DevClusterOptions, type ResolvedDevClusterOptions } from './options';
import { checkPortRange, findFreeClusterPorts, releasePorts } from './ports';
import { nodeCommand, pollUntil, tryNodeCommand } from './redis-command';
import { readState, writeState, type DevClusterState } from './state';

/** A node of a dev cluster as seen now. */
export interface DevClusterNode {
  /** Position in start order (0-based); masters were started first. */
  readonly index: number;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:port`. */
  readonly address: string;
  /** Cluster node id (stable across restarts: nodes.conf is kept). */
  readonly id: string;
  /** OS pid of the process, when the process backend runs it. */
  readonly pid: number | undefined;
  /** running, paused (SIGSTOP) or stopped (killed and not restarted). */
  readonly state: 'running' | 'paused' | 'stopped';
  /** Current role from the cluster's view, when a live node could be asked. */
  readonly role: 'master' | 'replica' | 'unknown';
  /** Port of the master this node replicates (replicas only). */
  readonly masterPort: number | undefined;
  /** Slot ranges owned (masters only). */
  readonly slots: ReadonlyArray<readonly [number, number]>;
}

/** A node given by its port, its index, or a {@link DevClusterNode}. */
export type NodeRef = number | { port: number };

interface Member {
  backend: NodeBackend;
  id: string;
  paused: boolean;
}

/**
 * A real Redis Cluster on 127.0.0.1, for development, tests, demos and benchmarks.
 *
 * ```ts
 * await using cluster = await DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
 * const redis = new Redis.Cluster(cluster.seedNodes);
 * await cluster.kill((await cluster.masters())[0]!);
 * ```
 */
export class DevCluster {
  readonly #members: Member[];
  #stopped = false;

  private constructor(
    readonly options: ResolvedDevClusterOptions,
    readonly backend: 'process' | 'docker',
    members: Member[],
  ) {
    this.#members = members;
  }

  /** Starts a cluster, forms it and waits until every node reports `cluster_state:ok`. */
  static async start(options: DevClusterOptions = {}): Promise<DevCluster> {
    const opts = resolveDevClusterOptions(options);
    const backend = await chooseBackend(opts);
    if (readState(opts.dir)) {
      const existing = await DevCluster.attach(opts.dir).catch(() => undefined);
      if (existing && (await existing.status()).some((n) => n.state !== 'stopped')) {
        throw new DevClusterStateError(`A cluster is already running from ${opts.dir}; stop it first`);
      }
    }
    const total = opts.masters * (1 + opts.replicas);
    const ports = opts.port === undefined ? await findFreeClusterPorts(total) : await checkPortRange(opts.port, total);
    const members: Member[] = ports.map((port) => ({
      backend:
        backend === 'docker'
          ? new DockerNode(port, path.join(opts.dir, String(port)), opts.dockerImage, opts.nodeTimeoutMs, opts.extraConfig)
          : new ProcessNode(port, path.join(opts.dir, String(port)), opts.redisServerBin, opts.nodeTimeoutMs, opts.extraConfig, opts.detached),
      id: '',
      paused: false,
    }));
    const cluster = new DevCluster(opts, backend, members);
    try {
      await Promise.all(members.map((m) => m.backend.start()));
      await cluster.form();
      cluster.save();
      return cluster;
    } catch (err) {
      await cluster.stop().catch(() => undefined);
      throw err;
    }
  }

  /** Reattaches to a cluster started (possibly by another process) with `dir`; used by the CLI. */
  static async attach(dir: string): Promise<DevCluster> {
    const state = readState(path.resolve(dir));
    if (!state) throw new DevClusterStateError(`No devcluster state in ${path.resolve(dir)}`);
    if (state.backend !== 'process') {
      throw new DevClusterStateError('Only clusters of the process backend can be reattached from another process');
    }
    const opts = resolveDevClusterOptions({
      dir,
      masters: state.masters,
      replicas: state.replicas,
      nodeTimeoutMs: state.nodeTimeoutMs,
      redisServerBin: state.redisServerBin,
      extraConfig: state.extraConfig,
      detached: true,
    });
    const members = state.nodes.map((n) => ({
      backend: new ProcessNode(n.port, n.dir, state.redisServerBin, state.nodeTimeoutMs, state.extraConfig, true, n.pid),
      id: n.id,
      paused: false,
    }));
    return new DevCluster(opts, 'process', members);
  }

  /** Seed nodes as `[{ host, port }, ...]`, the shape ioredis `Cluster` takes. */
  get seedNodes(): Array<{ host: string; port: number }> {
    return this.#members.map((m) => ({ host: '127.0.0.1', port: m.backend.port }));
  }

  /** Seed nodes as `host:port,host:port,...` (the REDIS_CLUSTER_NODES format). */
  get seeds(): string {
    return this.seedNodes.map((n) => `${n.host}:${n.port}`).join(',');
  }

  /** Directory holding the nodes' data and `state.json`. */
  get dir(): string {
    return this.options.dir;
  }

  /** Every node with its current role, state and slots. */
  async status(): Promise<DevClusterNode[]> {
    const view = await this.clusterView();
    return this.#members.map((m, index) => {
      const entry = view?.find((e) => e.id === m.id || e.port === m.backend.port);
      const running = m.backend.isRunning();
      const master = entry?.masterId ? view?.find((e) => e.id === entry.masterId) : undefined;
      return {
        index,
        host: '127.0.0.1',
        port: m.backend.port,
        address: `127.0.0.1:${m.backend.port}`,
        id: m.id,
        pid: m.backend.pid,
        state: running ? (m.paused ? 'paused' : 'running') : 'stopped',
        role: entry ? entry.role : 'unknown',
        masterPort: master?.port,
        slots: entry?.role === 'master' ? entry.slots : [],
      } satisfies DevClusterNode;
    });
  }

  /** Masters that own slots, as the live nodes see them now. */
  async masters(): Promise<DevClusterNode[]> {
    return (await this.status()).filter((n) => n.role === 'master' && n.slots.length > 0 && n.state !== 'stopped');
  }

  /** Replicas, as the live nodes see them now. */
  async replicas(): Promise<DevClusterNode[]> {
    return (await this.status()).filter((n) => n.role === 'replica' && n.state !== 'stopped');
  }

  /** Kills a node (SIGKILL by default: no chance to hand over; SIGTERM for a clean shutdown). */
  async kill(node: NodeRef, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const m = this.member(node);
    if (m.paused) {
      await m.backend.signal('SIGCONT');
      m.paused = false;
    }
    await m.backend.signal(signal);
  }

  /** Freezes a node with SIGSTOP: its sockets stay open but it answers nothing. */
  async pause(node: NodeRef): Promise<void> {
    const m = this.member(node);
    await m.backend.signal('SIGSTOP' satisfies NodeSignal);
    m.paused = true;
  }

  /** Thaws a node frozen by {@link pause}. */
  async resume(node: NodeRef): Promise<void> {
    const m = this.member(node);
    await m.backend.signal('SIGCONT');
    m.paused = false;
  }

  /**
   * Starts a stopped node again on the same port with its nodes.conf, so it rejoins the
   * cluster (as a replica if its slots were failed over meanwhile). Kills it first if running.
   */
  async restart(node: NodeRef, timeoutMs = this.options.startTimeoutMs): Promise<void> {
    const m = this.member(node);
    if (m.backend.isRunning()) await this.kill(node);
    await m.backend.start();
    m.paused = false;
    await pollUntil(async () => {
      const view = await this.clusterView();
      return view?.some((e) => e.id === m.id && !e.failed);
    }, timeoutMs, 100);
    await this.waitForOk(timeoutMs);
    this.save();
  }

  /**
   * Waits until the slots of `oldMaster` are served by another, healthy master and every
   * running node reports `cluster_state:ok`. Resolves with the new master.
   */
  async waitForFailover(oldMaster: NodeRef, timeoutMs = this.options.nodeTimeoutMs + 15_000): Promise<DevClusterNode> {
    const m = this.member(oldMaster);
    const start = Date.now();
    const promoted = await pollUntil(async () => {
      const view = await this.clusterView();
      const candidate = view?.find((e) => e.role === 'master' && e.id !== m.id && !e.failed && e.slots.length > 0 && this.replicaHistory(m.id).includes(e.id));
      return candidate;
    }, timeoutMs, 100);
    if (!promoted) throw new DevClusterTimeoutError(`a replica of ${m.backend.port} to be promoted`, timeoutMs);
    await this.waitForOk(Math.max(1000, timeoutMs - (Date.now() - start)));
    const status = await this.status();
    const node = status.find((n) => n.id === promoted.id);
    if (!node) throw new DevClusterError('SC_ERR_DEVCLUSTER_STATE', 'promoted node is not part of this cluster');
    return node;
  }

  /** Waits until every running, unpaused node reports `cluster_state:ok` with all 16384 slots ok. */
  async waitForOk(timeoutMs = this.options.startTimeoutMs): Promise<void> {
    const ok = await pollUntil(async () => {
      const live = this.#members.filter((m) => m.backend.isRunning() && !m.paused);
      if (live.length === 0) return false;
      const infos = await Promise.all(live.map((m) => tryNodeCommand(m.backend.port, ['CLUSTER', 'INFO'], 1000)));
      return infos.every((raw) => {
        if (typeof raw !== 'string') return false;
        const info = parseInfo(raw);
        return info.cluster_state === 'ok' && info.cluster_slots_ok === '16384';
      });
    }, timeoutMs, 100);
    if (!ok) throw new DevClusterTimeoutError('cluster_state:ok on every running node', timeoutMs);
  }

  /** FLUSHALL on every master (scripts are kept). */
  async flushAll(): Promise<void> {
    const masters = await this.masters();
    await Promise.all(masters.map((n) => nodeCommand(n.port, ['FLUSHALL'])));
  }

  /** Stops every node this cluster started (by pid or container) and deletes their data. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.#members.map((m) => m.backend.destroy()));
    releasePorts(this.#members.map((m) => m.backend.port));
    fs.rmSync(this.options.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // --- internals -------------------------------------------------------------------------

  /** Replicas ever attached to a master id (from formation), to recognise its successor. */
  private replicaHistory(masterId: string): string[] {
    const i = this.#members.findIndex((m) => m.id === masterId);
    if (i < 0) return this.#members.map((m) => m.id);
    const { masters } = this.options;
    if (i >= masters) {
      // A former replica that became master: any node may be its successor.
      return this.#members.map((m) => m.id);
    }
    return this.#members.filter((_, j) => j >= masters && (j - masters) % masters === i).map((m) => m.id);
  }

  private member(ref: NodeRef): Member {
    const port = typeof ref === 'number' ? ref : ref.port;
    const m = this.#members.find((x) => x.backend.port === port) ?? (typeof ref === 'number' ? this.#members[ref] : undefined);
    if (!m) throw new UnknownNodeError(String(port));
    return m;
  }

  /** CLUSTER NODES from the first live node that answers. */
  private async clusterView(): Promise<ClusterNodeEntry[] | undefined> {
    for (const m of this.#members) {
      if (!m.backend.isRunning() || m.paused) continue;
      const raw = await tryNodeCommand(m.backend.port, ['CLUSTER', 'NODES'], 1000);
      if (typeof raw === 'string') return parseClusterNodes(raw);
    }
    return undefined;
  }

  private async form(): Promise<void> {
    const { masters, replicas, startTimeoutMs } = this.options;
    const deadline = Date.now() + startTimeoutMs;
    const left = (): number => Math.max(1, deadline - Date.now());
    const ports = this.#members.map((m) => m.backend.port);
    for (const m of this.#members) m.id = String(await nodeCommand(m.backend.port, ['CLUSTER', 'MYID']));
    const ranges = splitSlots(masters);
    for (let i = 0; i < masters; i++) {
      const [a, b] = ranges[i]!;
      await nodeCommand(ports[i]!, ['CLUSTER', 'ADDSLOTSRANGE', a, b]);
      // Distinct epochs avoid the config-epoch collision dance redis-cli also avoids.
      await nodeCommand(ports[i]!, ['CLUSTER', 'SET-CONFIG-EPOCH', i + 1]);
    }
    for (const p of ports.slice(1)) await nodeCommand(ports[0]!, ['CLUSTER', 'MEET', '127.0.0.1', p]);
    const everyoneKnown = await pollUntil(async () => {
      const views = await Promise.all(ports.map((p) => tryNodeCommand(p, ['CLUSTER', 'NODES'], 1000)));
      return views.every((v) => {
        if (typeof v !== 'string') return false;
        const entries = parseClusterNodes(v);
        return entries.length === ports.length && entries.every((e) => !e.flags.includes('handshake') && e.id !== '');
      });
    }, left(), 50);
    if (!everyoneKnown) throw new DevClusterTimeoutError('all nodes to meet each other', startTimeoutMs);
    for (let r = 0; r < masters * replicas; r++) {
      const replica = this.#members[masters + r]!;
      const master = this.#members[r % masters]!;
      await nodeCommand(replica.backend.port, ['CLUSTER', 'REPLICATE', master.id]);
    }
    const synced = await pollUntil(async () => {
      const infos = await Promise.all(
        this.#members.slice(masters).map((m) => tryNodeCommand(m.backend.port, ['INFO', 'replication'], 1000)),
      );
      return infos.every((raw) => typeof raw === 'string' && parseInfo(raw).master_link_status === 'up');
    }, left(), 100);
    if (!synced) throw new DevClusterTimeoutError('replicas to sync with their masters', startTimeoutMs);
    await this.waitForOk(left());
    // Every node must also see every replica in place before tests start killing masters.
    const settled = await pollUntil(async () => {
      const views = await Promise.all(ports.map((p) => tryNodeCommand(p, ['CLUSTER', 'NODES'], 1000)));
      return views.every((v) => typeof v === 'string' && parseClusterNodes(v).filter((e) => e.role === 'replica').length === masters * replicas);
    }, left(), 50);
    if (!settled) throw new DevClusterTimeoutError('every node to see the replicas', startTimeoutMs);
  }

  private save(): void {
    const state: DevClusterState = {
      version: 1,
      backend: this.backend,
      createdAt: new Date().toISOString(),
      masters: this.options.masters,
      replicas: this.options.replicas,
      nodeTimeoutMs: this.options.nodeTimeoutMs,
      redisServerBin: this.options.redisServerBin,
      extraConfig: this.options.extraConfig,
      nodes: this.#members.map((m) => ({ port: m.backend.port, dir: m.backend.dir, pid: m.backend.pid, id: m.id })),
    };
    writeState(this.options.dir, state);
  }
}

async function chooseBackend(opts: ResolvedDevClusterOptions): Promise<'process' | 'docker'> {
  if (opts.backend === 'process') {
    if (!redisServerVersion(opts.redisServerBin)) throw new RedisNotInstalledError(`cannot run "${opts.redisServerBin}"`);
    return 'process';
  }
  if (opts.backend === 'docker') return 'docker';
  if (redisServerVersion(opts.redisServerBin)) return 'process';
  if (await dockerAvailable()) return 'docker';
  throw new RedisNotInstalledError(`"${opts.redisServerBin}" is not on PATH and no Docker engine answers`);
}

/** Starts a dev cluster; shorthand for {@link DevCluster.start}. */
export function startCluster(options?: DevClusterOptions): Promise<DevCluster> {
  return DevCluster.start(options);
}

/** Parses `host:port,host:port` (REDIS_CLUSTER_NODES) into seed nodes; throws on a bad entry. */
export function parseSeeds(text: string): Array<{ host: string; port: number }> {
  const seeds = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const i = entry.lastIndexOf(':');
      const host = entry.slice(0, i);
      const port = Number(entry.slice(i + 1));
      if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new TypeError(`Invalid node address ${JSON.stringify(entry)}: expected host:port`);
      }
      return { host, port };
    });
  if (seeds.length === 0) throw new TypeError('Empty node list: expected host:port[,host:port...]');
  return seeds;
}
