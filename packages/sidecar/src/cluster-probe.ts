import Redis from 'ioredis';
import type { HostPort } from './options';
import { formatAddress, numberField, parseClusterNodes, parseInfoFields, splitAddress } from './redis-info';

/**
 * Probes every node of a Redis Cluster on an interval: PING round trip, INFO and CLUSTER INFO.
 * The node list comes from CLUSTER NODES, asked again every cycle, so new nodes, failovers and
 * forgotten nodes are followed without a restart. Each node gets its own standalone ioredis
 * connection (never a cluster client: a probe must see each node, not the cluster's routing),
 * with connect and command timeouts, no offline queue and no automatic reconnection; a node
 * that fails a probe has its connection dropped and a fresh one is made next cycle, so a
 * paused or dead node can never make a cycle hang or leave late replies behind.
 */

/** What INFO says about one node. */
export interface NodeInfo {
  readonly role: 'master' | 'replica' | undefined;
  readonly keyspaceHits: number | undefined;
  readonly keyspaceMisses: number | undefined;
  readonly evictedKeys: number | undefined;
  readonly usedMemoryBytes: number | undefined;
  readonly connectedClients: number | undefined;
  readonly trackingClients: number | undefined;
}

/** What CLUSTER INFO says about the cluster, from one node's point of view. */
export interface NodeClusterInfo {
  /** `cluster_state`: 'ok' or 'fail'. */
  readonly state: string;
  readonly slotsAssigned: number | undefined;
  readonly slotsOk: number | undefined;
  readonly slotsPfail: number | undefined;
  readonly slotsFail: number | undefined;
  readonly knownNodes: number | undefined;
}

/** Result of the last probe of one node. */
export interface NodeStatus {
  /** `host:port`, the `node` label. */
  readonly node: string;
  readonly up: boolean;
  /** Round trip of the last successful PING, seconds. */
  readonly pingSeconds: number | undefined;
  readonly info: NodeInfo | undefined;
  /** Undefined for a node without cluster support (standalone). */
  readonly cluster: NodeClusterInfo | undefined;
  /** Why the node is down. */
  readonly error: string | undefined;
  /** Wall-clock ms of the probe. */
  readonly probedAt: number;
}

/** What /readyz reports. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
  readonly nodes: number;
  readonly nodesUp: number;
  readonly lastProbeAt: number | undefined;
}

/** Minimal logger (fastify's pino logger fits). */
export interface ProbeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Options of {@link ClusterProbe}. */
export interface ClusterProbeOptions {
  /** Seed nodes; the rest is discovered. */
  seeds: readonly HostPort[];
  /** Milliseconds between the end of a cycle and the start of the next. */
  intervalMs: number;
  /** Milliseconds allowed to a connection attempt and to each command. */
  timeoutMs: number;
  username?: string | undefined;
  password?: string | undefined;
  /** Called with every successful PING round trip (seconds). */
  onPing?: (node: string, seconds: number) => void;
  /** Called when a node left the topology, to drop its series. */
  onNodeRemoved?: (node: string) => void;
  logger?: ProbeLogger | undefined;
  /** Wall clock (ms). @default Date.now */
  now?: () => number;
}

const CLUSTER_DISABLED = /cluster support disabled/i;

class ProbeTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Probes the nodes of one cluster; see the module comment. */
export class ClusterProbe {
  readonly #opts: ClusterProbeOptions;
  readonly #now: () => number;
  readonly #seeds: readonly string[];
  readonly #clients = new Map<string, Redis>();
  readonly #status = new Map<string, NodeStatus>();
  #cycle: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #lastCycleAt: number | undefined;
  #started = false;
  #closed = false;

  constructor(opts: ClusterProbeOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#seeds = [...new Set(opts.seeds.map((s) => formatAddress(s.host, s.port)))];
  }

  /** Starts probing: one cycle now, then one `intervalMs` after each cycle ends. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const loop = (): void => {
      void this.probeOnce().finally(() => {
        if (this.#closed) return;
        this.#timer = setTimeout(loop, this.#opts.intervalMs);
        this.#timer.unref();
      });
    };
    loop();
  }

  /** Runs one cycle, or joins the one in progress. Never rejects. */
  probeOnce(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (!this.#cycle) {
      this.#cycle = this.#runCycle()
        .catch((err: unknown) => this.#opts.logger?.warn({ err: message(err) }, 'probe cycle failed'))
        .finally(() => {
          this.#cycle = null;
        });
    }
    return this.#cycle;
  }

  /** Status of every node of the current topology. */
  nodes(): NodeStatus[] {
    return [...this.#status.values()];
  }

  /** Ready when the last cycle is recent, some node answered, and every node that answered says cluster_state ok. */
  readiness(): Readiness {
    const nodes = this.nodes();
    const up = nodes.filter((n) => n.up);
    const base = { nodes: nodes.length, nodesUp: up.length, lastProbeAt: this.#lastCycleAt };
    if (this.#seeds.length === 0) return { ...base, ready: false, reason: 'no Redis nodes configured (--redis)' };
    if (this.#lastCycleAt === undefined) return { ...base, ready: false, reason: 'no probe cycle has completed yet' };
    const staleAfter = 3 * this.#opts.intervalMs + 4 * this.#opts.timeoutMs;
    if (this.#now() - this.#lastCycleAt > staleAfter) {
      return { ...base, ready: false, reason: `no probe cycle completed in the last ${staleAfter} ms` };
    }
    if (up.length === 0) return { ...base, ready: false, reason: 'no Redis node is reachable' };
    const notOk = up.filter((n) => n.cluster && n.cluster.state !== 'ok');
    if (notOk.length > 0) {
      return {
        ...base,
        ready: false,
        reason: `cluster_state is not ok on ${notOk.map((n) => `${n.node} (${n.cluster!.state})`).join(', ')}`,
      };
    }
    return { ...base, ready: true, reason: 'ok' };
  }

  /** Stops the loop, waits for the cycle in progress and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#cycle;
    for (const node of [...this.#clients.keys()]) this.#dropClient(node);
  }

  async #runCycle(): Promise<void> {
    if (this.#seeds.length === 0) return;
    const discovered = await this.#discover();
    // When no node answers, keep probing what we knew (or the seeds) so they show as down.
    const addresses = discovered ?? (this.#status.size > 0 ? [...this.#status.keys()] : [...this.#seeds]);
    const keep = new Set(addresses);
    for (const node of [...this.#status.keys()]) {
      if (!keep.has(node)) {
        this.#status.delete(node);
        this.#opts.onNodeRemoved?.(node);
        this.#opts.logger?.info({ node }, 'Redis node left the topology');
      }
    }
    for (const node of [...this.#clients.keys()]) if (!keep.has(node)) this.#dropClient(node);
    await Promise.all(addresses.map((node) => this.#probeNode(node)));
    if (!this.#closed) this.#lastCycleAt = this.#now();
  }

  /** Node addresses from the first node that answers CLUSTER NODES: known-good nodes first, then seeds. */
  async #discover(): Promise<string[] | undefined> {
    const known = [...this.#status.values()];
    const candidates = [
      ...new Set([...known.filter((n) => n.up).map((n) => n.node), ...this.#seeds, ...known.map((n) => n.node)]),
    ];
    for (const candidate of candidates) {
      if (this.#closed) return undefined;
      try {
        const client = await this.#connected(candidate);
        const text = String(await client.call('CLUSTER', 'NODES'));
        const addresses = parseClusterNodes(text)
          .map((n) => n.address || (n.myself ? candidate : ''))
          .filter(Boolean);
        if (addresses.length > 0) return [...new Set(addresses)];
      } catch (err) {
        // A standalone server: probe the configured nodes as they are.
        if (CLUSTER_DISABLED.test(message(err))) return [...this.#seeds];
        this.#dropClient(candidate);
      }
    }
    return undefined;
  }

  async #probeNode(node: string): Promise<void> {
    const previous = this.#status.get(node);
    let status: NodeStatus;
    try {
      // Each command has its own timeout; this bounds the whole node even if one misbehaves.
      status = await withTimeout(this.#measure(node), 5 * this.#opts.timeoutMs, `probe of ${node}`);
    } catch (err) {
      this.#dropClient(node);
      status = { node, up: false, pingSeconds: undefined, info: undefined, cluster: undefined, error: message(err), probedAt: this.#now() };
    }
    if (this.#closed) return;
    this.#status.set(node, status);
    if (!previous) this.#opts.logger?.info({ node, up: status.up }, 'Redis node discovered');
    if (previous?.up && !status.up) this.#opts.logger?.warn({ node, err: status.error }, 'Redis node is down');
    if (previous && !previous.up && status.up) this.#opts.logger?.info({ node }, 'Redis node is up again');
  }

  async #measure(node: string): Promise<NodeStatus> {
    const fresh = this.#clients.get(node)?.status !== 'ready';
    const client = await this.#connected(node);
    // A new connection's first reply can include connection setup; time the second.
    if (fresh) await client.ping();
    const t0 = process.hrtime.bigint();
    await client.ping();
    const pingSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.#opts.onPing?.(node, pingSeconds);
    const info = parseInfoFields(await client.info());
    let cluster: NodeClusterInfo | undefined;
    try {
      const c = parseInfoFields(String(await client.call('CLUSTER', 'INFO')));
      cluster = {
        state: c.get('cluster_state') ?? 'unknown',
        slotsAssigned: numberField(c, 'cluster_slots_assigned'),
        slotsOk: numberField(c, 'cluster_slots_ok'),
        slotsPfail: numberField(c, 'cluster_slots_pfail'),
        slotsFail: numberField(c, 'cluster_slots_fail'),
        knownNodes: numberField(c, 'cluster_known_nodes'),
      };
    } catch (err) {
      if (!CLUSTER_DISABLED.test(message(err))) throw err;
    }
    const role = info.get('role');
    return {
      node,
      up: true,
      pingSeconds,
      info: {
        role: role === 'master' ? 'master' : role === 'slave' || role === 'replica' ? 'replica' : undefined,
        keyspaceHits: numberField(info, 'keyspace_hits'),
        keyspaceMisses: numberField(info, 'keyspace_misses'),
        evictedKeys: numberField(info, 'evicted_keys'),
        usedMemoryBytes: numberField(info, 'used_memory'),
        connectedClients: numberField(info, 'connected_clients'),
        trackingClients: numberField(info, 'tracking_clients'),
      },
      cluster,
      error: undefined,
      probedAt: this.#now(),
    };
  }

  /** The node's connection, made (or made again) and ready. */
  async #connected(node: string): Promise<Redis> {
    const existing = this.#clients.get(node);
    if (existing?.status === 'ready') return existing;
    if (existing) this.#dropClient(node);
    const { host, port } = splitAddress(node);
    const client = new Redis({
      host,
      port,
      username: this.#opts.username,
      password: this.#opts.password,
      connectionName: 'sessioncache-sidecar-probe',
      lazyConnect: true,
      connectTimeout: this.#opts.timeoutMs,
      commandTimeout: this.#opts.timeoutMs,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      // How long a closing socket may linger before it is destroyed (ioredis default: 2 s).
      disconnectTimeout: this.#opts.timeoutMs,
    });
    // Failures surface through the command promises; an 'error' event without a listener would crash.
    client.on('error', () => undefined);
    this.#clients.set(node, client);
    await withTimeout(client.connect(), this.#opts.timeoutMs + 100, `connection to ${node}`);
    return client;
  }

  #dropClient(node: string): void {
    const client = this.#clients.get(node);
    if (!client) return;
    this.#clients.delete(node);
    // An ended client has no socket left; disconnect() would still arm a destroy timer.
    if (client.status !== 'end') client.disconnect();
  }
}
