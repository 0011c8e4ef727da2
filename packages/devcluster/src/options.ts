import * as path from 'node:path';
import * as os from 'node:os';

/** How the nodes are run. */
export type DevClusterBackend = 'auto' | 'process' | 'docker';

/** Options of {@link startCluster}. Every field is optional; see {@link DEFAULT_DEVCLUSTER_OPTIONS}. */
export interface DevClusterOptions {
  /**
   * Number of masters (each owns an even share of the 16384 slots).
   * @default 3
   */
  masters?: number;
  /**
   * Replicas per master.
   * @default 1
   */
  replicas?: number;
  /**
   * First client port; nodes use `port`, `port + 1`, ... and the cluster bus `port + 10000`.
   * When omitted, free ports are found automatically.
   * @default undefined
   */
  port?: number;
  /**
   * Directory holding one folder per node (config, nodes.conf, log) and `state.json`.
   * @default a new folder under the OS temp dir
   */
  dir?: string;
  /**
   * `cluster-node-timeout` in milliseconds: how long a node may be unreachable before a
   * failover starts. Tests use a short one (1000-2000) to make failovers quick.
   * @default 5000
   */
  nodeTimeoutMs?: number;
  /**
   * How long to wait for the cluster to be formed and report `cluster_state:ok` everywhere.
   * @default 30000
   */
  startTimeoutMs?: number;
  /**
   * `process` runs local redis-server binaries, `docker` runs them with testcontainers (host
   * networking, so the addresses in MOVED replies are reachable), `auto` prefers a local binary.
   * @default 'auto'
   */
  backend?: DevClusterBackend;
  /**
   * Path of the redis-server binary for the process backend.
   * @default process.env.REDIS_SERVER_BIN or 'redis-server' on PATH
   */
  redisServerBin?: string;
  /**
   * Start the processes in their own process group so they outlive this process (the CLI uses
   * this). When false, they are stopped when this process exits, even on a crash.
   * @default false
   */
  detached?: boolean;
  /**
   * Extra `redis.conf` directives for every node, e.g. `{ 'maxmemory': '64mb' }`.
   * @default {}
   */
  extraConfig?: Record<string, string>;
  /**
   * Docker image for the docker backend.
   * @default 'redis:7.2'
   */
  dockerImage?: string;
}

/** Fully resolved options. */
export interface ResolvedDevClusterOptions {
  masters: number;
  replicas: number;
  port: number | undefined;
  dir: string;
  nodeTimeoutMs: number;
  startTimeoutMs: number;
  backend: DevClusterBackend;
  redisServerBin: string;
  detached: boolean;
  extraConfig: Record<string, string>;
  dockerImage: string;
}

/** Defaults merged by {@link resolveDevClusterOptions}. */
export const DEFAULT_DEVCLUSTER_OPTIONS = Object.freeze({
  masters: 3,
  replicas: 1,
  nodeTimeoutMs: 5000,
  startTimeoutMs: 30_000,
  backend: 'auto' as DevClusterBackend,
  detached: false,
  dockerImage: 'redis:7.2',
});

function positiveInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`devcluster option "${name}" must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Merges defaults and checks every option eagerly; throws a TypeError naming the bad option. */
export function resolveDevClusterOptions(options: DevClusterOptions = {}): ResolvedDevClusterOptions {
  const merged = { ...DEFAULT_DEVCLUSTER_OPTIONS, ...stripUndefined(options) };
  const masters = positiveInt('masters', merged.masters, 1, 50);
  const replicas = positiveInt('replicas', merged.replicas, 0, 5);
  const total = masters * (1 + replicas);
  let port: number | undefined;
  if (options.port !== undefined) {
    port = positiveInt('port', options.port, 1024, 55535 - total);
  }
  const nodeTimeoutMs = positiveInt('nodeTimeoutMs', merged.nodeTimeoutMs, 100, 600_000);
  const startTimeoutMs = positiveInt('startTimeoutMs', merged.startTimeoutMs, 1000, 600_000);
  if (!['auto', 'process', 'docker'].includes(merged.backend)) {
    throw new TypeError(`devcluster option "backend" must be 'auto', 'process' or 'docker', got ${String(merged.backend)}`);
  }
  const extraConfig = options.extraConfig ?? {};
  for (const [k, v] of Object.entries(extraConfig)) {
    if (!/^[a-z][a-z0-9-]*$/.test(k) || typeof v !== 'string' || /[\r\n]/.test(v)) {
      throw new TypeError(`devcluster option "extraConfig" has an invalid directive ${JSON.stringify(k)}`);
    }
  }
  return {
    masters,
    replicas,
    port,
    dir: path.resolve(options.dir ?? path.join(os.tmpdir(), `sessioncache-devcluster-${process.pid}-${Date.now().toString(36)}`)),
    nodeTimeoutMs,
    startTimeoutMs,
    backend: merged.backend,
    redisServerBin: options.redisServerBin ?? process.env.REDIS_SERVER_BIN ?? 'redis-server',
    detached: Boolean(merged.detached),
    extraConfig,
    dockerImage: merged.dockerImage,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
