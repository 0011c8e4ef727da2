import type { ClusterOptions, RedisOptions } from 'ioredis';
import { InvalidOptionsError } from './errors';

/** A Redis node: `'host:port'` or `{ host, port }`. */
export type NodeAddress = string | { host: string; port: number };

/** One Redis Cluster or standalone node: where the sessions of one cell live. */
export type RedisTarget = ClusterTarget | StandaloneTarget;

/** Where sessions live: one target, or several cells on a consistent-hash ring. */
export type RedisOption = RedisTarget | CellsTarget;

/** One cell of `redis.cells`. */
export type CellOption = RedisTarget & {
  /** Stable identity of the cell in the hash (renaming it moves its sessions). */
  name: string;
  /** Relative share of sessions. @default 1 */
  weight?: number;
};

/**
 * Several independent clusters (or standalone nodes) as cells. Each session lives on one cell,
 * chosen from its id alone by weighted rendezvous hashing, so a user's sessions share a cell.
 * While the ring changes, `previousCells` lists the cells as they were: a session missing on its
 * new owner is read from its previous owner and moved (read-through migration), and
 * `rebalance()` moves the rest. Cells only in `previousCells` are drained.
 */
export interface CellsTarget {
  cells: CellOption[];
  previousCells?: CellOption[];
}

/** `{ cluster }` target. */
export type ClusterTarget = {
  /** Seed nodes of a Redis Cluster (any subset of its nodes). */
  cluster: NodeAddress[] | string;
  /** ioredis Cluster options passed through (the SDK sets its own timeouts and queues on top). */
  options?: ClusterOptions;
};

/** `{ standalone }` target. */
export type StandaloneTarget = {
  /** One standalone Redis, for development or as a cell. */
  standalone: NodeAddress;
  /** ioredis options passed through. */
  options?: RedisOptions;
};

/** How near-cache entries are kept correct. */
export type InvalidationMode = 'tracking' | 'none';

/** Options of the in-process near cache. */
export interface NearCacheOptions {
  /**
   * Serve hot sessions from process memory.
   * @default true
   */
  enabled?: boolean;
  /**
   * Most entries kept (at most 10,000,000). lru-cache allocates its index up front, about 46
   * bytes per entry, for min(maxEntries, maxBytes / 256) entries.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Most bytes kept (encoded session size plus a fixed per-entry overhead).
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /**
   * Longest time an entry is served from memory, whatever its Redis TTL. With tracking this
   * bounds the damage of an undetected lost invalidation; without it, it bounds staleness.
   * @default 60000
   */
  maxTtlMs?: number;
  /**
   * `tracking`: Redis CLIENT TRACKING (BCAST on the session key prefix) invalidates entries on
   * every instance within milliseconds. `none`: entries live `fallbackTtlMs` at most.
   * @default 'tracking'
   */
  invalidation?: InvalidationMode;
  /**
   * Longest life of an entry when invalidation is `none`, or when the server refuses CLIENT
   * TRACKING (TTL-only fallback): the staleness bound of revocation in that mode.
   * @default 1000
   */
  fallbackTtlMs?: number;
}

/** `durability` option: wait for replicas to acknowledge writes (Redis WAIT). */
export interface DurabilityOptions {
  /**
   * Replicas that must acknowledge each write before it resolves. 0 turns WAIT off.
   * @default 0
   */
  replicas?: number;
  /**
   * Longest wait for the acknowledgements; then the write rejects with DurabilityError.
   * @default 200
   */
  timeoutMs?: number;
  /**
   * Connections per master kept for durable writes only (opened on first use). WAIT blocks
   * the connection it runs on, so durable writes never go on the connections reads use; they
   * are spread round-robin over these, and writes sharing one wait for each other's WAIT.
   * @default 2
   */
  connections?: number;
}

/** `metrics` option. */
export interface MetricsOptions {
  /** Base URL of the sidecar, e.g. `http://127.0.0.1:9464`; turns the reporter on. */
  sidecar?: string;
  /** Low-cardinality name of this process in metrics. @default $SESSIONCACHE_WORKER or hostname-pid */
  worker?: string;
  /** Report interval. @default 5000 */
  intervalMs?: number;
}

/** Options of {@link SessionCache.connect}. Only `redis` is required. */
export interface SessionCacheOptions {
  /** Where sessions live: `{ cluster: seeds }`, `{ standalone: node }` or `{ cells: [...], previousCells? }`. */
  redis: RedisOption;
  /**
   * Prefix of every Redis key, so several apps can share a cluster.
   * @default 'sc:'
   */
  keyPrefix?: string;
  /**
   * Idle (sliding) timeout: a session not accessed for this long expires.
   * @default 1800 (30 min)
   */
  idleTimeoutSec?: number;
  /**
   * Absolute timeout: a session expires this long after creation however active it is.
   * @default 28800 (8 h)
   */
  absoluteTimeoutSec?: number;
  /**
   * Fraction of the idle timeout that must have elapsed since the last refresh before a read
   * refreshes the Redis TTL. Refreshing is a write that invalidates every instance's near
   * cache, so reads refresh at most once per `idleTimeoutSec * touchFraction` per session;
   * the idle timeout is honoured within that fraction.
   * @default 0.1
   */
  touchFraction?: number;
  /**
   * Most live sessions per user; 0 means no limit.
   * @default 0
   */
  maxSessionsPerUser?: number;
  /**
   * At the limit: `'evict-oldest'` destroys the user's oldest session, `'reject'` makes
   * `create` throw SessionLimitError.
   * @default 'evict-oldest'
   */
  onLimit?: 'evict-oldest' | 'reject';
  /**
   * Largest encoded session (all attributes); larger writes throw PayloadTooLargeError.
   * @default 1048576 (1 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * How long a destroyed or regenerated id stays blocked (its tombstone lives), so that a save
   * racing the logout cannot bring it back. Longer than your slowest request.
   * @default 600
   */
  tombstoneTtlSec?: number;
  /**
   * Upper bound of every call that goes to Redis; past it the call rejects with
   * RedisTimeoutError (the command's outcome is then unknown).
   * @default 500
   */
  commandTimeoutMs?: number;
  /**
   * Longest wait for the cluster to be ready in `connect`.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /** Wait for replica acknowledgements (WAIT). @default { replicas: 0, timeoutMs: 200, connections: 2 } */
  durability?: DurabilityOptions;
  /** In-process near cache. @default { enabled: true, ... } */
  nearCache?: NearCacheOptions;
  /**
   * Secret for the keyed hash that turns a user id into the routing tag of that user's
   * session ids (so a user's sessions share a slot). Every instance must use the same one.
   * Without it a fixed built-in key is used, which lets anyone who knows a user id compute its
   * tag: set it in production.
   * @default undefined
   */
  userTagSecret?: string | Buffer;
  /** Metrics reporting to the sidecar. @default {} (off) */
  metrics?: MetricsOptions;
}

/** Fully resolved options. */
export interface ResolvedOptions {
  /** One target, or cells (validated by the ring when the cache connects). */
  redis: RedisOption;
  keyPrefix: string;
  idleTimeoutSec: number;
  absoluteTimeoutSec: number;
  touchFraction: number;
  maxSessionsPerUser: number;
  onLimit: 'evict-oldest' | 'reject';
  maxPayloadBytes: number;
  tombstoneTtlSec: number;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  durability: Required<DurabilityOptions>;
  nearCache: Required<NearCacheOptions>;
  userTagSecret: Buffer;
  metrics: MetricsOptions;
}

/** Defaults applied by {@link resolveOptions}. */
/** Largest `nearCache.maxEntries` accepted (its index alone would take ~460 MiB). */
export const MAX_NEAR_CACHE_ENTRIES = 10_000_000;

export const DEFAULT_OPTIONS = Object.freeze({
  keyPrefix: 'sc:',
  idleTimeoutSec: 1800,
  absoluteTimeoutSec: 28800,
  touchFraction: 0.1,
  maxSessionsPerUser: 0,
  onLimit: 'evict-oldest' as const,
  maxPayloadBytes: 1024 * 1024,
  tombstoneTtlSec: 600,
  commandTimeoutMs: 500,
  connectTimeoutMs: 10_000,
  durability: Object.freeze({ replicas: 0, timeoutMs: 200, connections: 2 }),
  nearCache: Object.freeze({
    enabled: true,
    maxEntries: 10_000,
    maxBytes: 64 * 1024 * 1024,
    maxTtlMs: 60_000,
    invalidation: 'tracking' as InvalidationMode,
    fallbackTtlMs: 1000,
  }),
});

const BUILTIN_TAG_KEY = Buffer.from('sessioncache/user-tag/v1');

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(name: string, v: unknown, opts: { min: number; max: number; integer?: boolean }): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new InvalidOptionsError(name, `must be a number, got ${describe(v)}`);
  if (opts.integer && !Number.isInteger(v)) throw new InvalidOptionsError(name, `must be an integer, got ${v}`);
  if (v < opts.min || v > opts.max) throw new InvalidOptionsError(name, `must be between ${opts.min} and ${opts.max}, got ${v}`);
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : String(v);
}

function checkKnown(name: string, obj: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) throw new InvalidOptionsError(name ? `${name}.${k}` : k, `unknown option (known: ${known.join(', ')})`);
  }
}

/** Parses `'host:port'` or `{host, port}`; throws naming `option` when malformed. */
export function parseNode(option: string, node: unknown): { host: string; port: number } {
  if (typeof node === 'string') {
    const i = node.lastIndexOf(':');
    const host = node.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(node.slice(i + 1));
    if (i <= 0 || !host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidOptionsError(option, `${JSON.stringify(node)} is not host:port`);
    }
    return { host, port };
  }
  if (isObject(node) && typeof node.host === 'string' && node.host && Number.isInteger(node.port) && (node.port as number) > 0 && (node.port as number) < 65536) {
    return { host: node.host, port: node.port as number };
  }
  throw new InvalidOptionsError(option, `${describe(node)} is not a node address ('host:port' or { host, port })`);
}

function resolveTarget(redis: unknown, at: string, extra: readonly string[] = []): RedisTarget {
  if (!isObject(redis)) throw new InvalidOptionsError(at, 'is required: { cluster: ["host:port", ...] } or { standalone: "host:port" }');
  const modes = ['cluster', 'standalone'].filter((k) => k in redis);
  if (modes.length !== 1) {
    throw new InvalidOptionsError(at, `needs exactly one of "cluster" or "standalone", got ${modes.length ? modes.join(' and ') : 'neither'}`);
  }
  checkKnown(at, redis, ['cluster', 'standalone', 'options', ...extra]);
  if (redis.options !== undefined && !isObject(redis.options)) throw new InvalidOptionsError(`${at}.options`, 'must be an object');
  if ('cluster' in redis) {
    const raw = typeof redis.cluster === 'string' ? redis.cluster.split(',').map((s) => s.trim()).filter(Boolean) : redis.cluster;
    if (!Array.isArray(raw) || raw.length === 0) throw new InvalidOptionsError(`${at}.cluster`, 'must be a non-empty list of nodes');
    const nodes = raw.map((n, i) => parseNode(`${at}.cluster[${i}]`, n));
    return { cluster: nodes, options: redis.options as ClusterOptions | undefined };
  }
  return { standalone: parseNode(`${at}.standalone`, redis.standalone), options: redis.options as RedisOptions | undefined };
}

function resolveCells(list: unknown, at: string): CellOption[] {
  if (!Array.isArray(list) || list.length === 0) throw new InvalidOptionsError(at, 'must be a non-empty array of { name, cluster | standalone, weight? }');
  return list.map((c, i) => {
    const target = resolveTarget(c, `${at}[${i}]`, ['name', 'weight']);
    const { name, weight } = c as { name: string; weight?: number };
    return { ...target, name, ...(weight !== undefined ? { weight } : {}) };
  });
}

function resolveRedis(redis: unknown): ResolvedOptions['redis'] {
  if (isObject(redis) && 'cells' in redis) {
    checkKnown('redis', redis, ['cells', 'previousCells']);
    const cells = resolveCells(redis.cells, 'redis.cells');
    const previousCells = redis.previousCells === undefined ? undefined : resolveCells(redis.previousCells, 'redis.previousCells');
    return { cells, ...(previousCells ? { previousCells } : {}) };
  }
  return resolveTarget(redis, 'redis');
}

/** Merges defaults and validates every option eagerly. Throws InvalidOptionsError (a TypeError). */
export function resolveOptions(input: SessionCacheOptions): ResolvedOptions {
  if (!isObject(input)) throw new InvalidOptionsError('options', `must be an object, got ${describe(input)}`);
  checkKnown('', input, [
    'redis',
    'keyPrefix',
    'idleTimeoutSec',
    'absoluteTimeoutSec',
    'touchFraction',
    'maxSessionsPerUser',
    'onLimit',
    'maxPayloadBytes',
    'tombstoneTtlSec',
    'commandTimeoutMs',
    'connectTimeoutMs',
    'durability',
    'nearCache',
    'userTagSecret',
    'metrics',
  ]);
  const o = { ...DEFAULT_OPTIONS, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) } as Record<string, unknown>;
  const redis = resolveRedis(input.redis);
  const keyPrefix = o.keyPrefix;
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 64 || /[{}\s]/.test(keyPrefix)) {
    throw new InvalidOptionsError('keyPrefix', 'must be a string of at most 64 characters without braces or spaces');
  }
  const idleTimeoutSec = num('idleTimeoutSec', o.idleTimeoutSec, { min: 1, max: 365 * 86400, integer: true });
  const absoluteTimeoutSec = num('absoluteTimeoutSec', o.absoluteTimeoutSec, { min: 1, max: 10 * 365 * 86400, integer: true });
  if (absoluteTimeoutSec < idleTimeoutSec) {
    throw new InvalidOptionsError('absoluteTimeoutSec', `(${absoluteTimeoutSec}) must not be shorter than idleTimeoutSec (${idleTimeoutSec})`);
  }
  const touchFraction = num('touchFraction', o.touchFraction, { min: 0, max: 0.9 });
  const maxSessionsPerUser = num('maxSessionsPerUser', o.maxSessionsPerUser, { min: 0, max: 100_000, integer: true });
  if (o.onLimit !== 'evict-oldest' && o.onLimit !== 'reject') {
    throw new InvalidOptionsError('onLimit', `must be 'evict-oldest' or 'reject', got ${describe(o.onLimit)}`);
  }
  const maxPayloadBytes = num('maxPayloadBytes', o.maxPayloadBytes, { min: 64, max: 512 * 1024 * 1024, integer: true });
  const tombstoneTtlSec = num('tombstoneTtlSec', o.tombstoneTtlSec, { min: 1, max: 30 * 86400, integer: true });
  const commandTimeoutMs = num('commandTimeoutMs', o.commandTimeoutMs, { min: 1, max: 600_000, integer: true });
  const connectTimeoutMs = num('connectTimeoutMs', o.connectTimeoutMs, { min: 1, max: 600_000, integer: true });

  if (input.durability !== undefined && !isObject(input.durability)) throw new InvalidOptionsError('durability', 'must be an object');
  const d = { ...DEFAULT_OPTIONS.durability, ...(input.durability ?? {}) } as Record<string, unknown>;
  checkKnown('durability', d, ['replicas', 'timeoutMs', 'connections']);
  const durability = {
    replicas: num('durability.replicas', d.replicas, { min: 0, max: 16, integer: true }),
    timeoutMs: num('durability.timeoutMs', d.timeoutMs, { min: 1, max: 60_000, integer: true }),
    connections: num('durability.connections', d.connections, { min: 1, max: 64, integer: true }),
  };

  if (input.nearCache !== undefined && !isObject(input.nearCache)) throw new InvalidOptionsError('nearCache', 'must be an object');
  const n = { ...DEFAULT_OPTIONS.nearCache, ...(input.nearCache ?? {}) } as Record<string, unknown>;
  checkKnown('nearCache', n, ['enabled', 'maxEntries', 'maxBytes', 'maxTtlMs', 'invalidation', 'fallbackTtlMs']);
  if (typeof n.enabled !== 'boolean') throw new InvalidOptionsError('nearCache.enabled', `must be true or false, got ${describe(n.enabled)}`);
  if (n.invalidation !== 'tracking' && n.invalidation !== 'none') {
    throw new InvalidOptionsError('nearCache.invalidation', `must be 'tracking' or 'none', got ${describe(n.invalidation)}`);
  }
  const nearCache = {
    enabled: n.enabled,
    maxEntries: num('nearCache.maxEntries', n.maxEntries, { min: 1, max: MAX_NEAR_CACHE_ENTRIES, integer: true }),
    maxBytes: num('nearCache.maxBytes', n.maxBytes, { min: 1024, max: Number.MAX_SAFE_INTEGER, integer: true }),
    maxTtlMs: num('nearCache.maxTtlMs', n.maxTtlMs, { min: 1, max: 86_400_000, integer: true }),
    invalidation: n.invalidation,
    fallbackTtlMs: num('nearCache.fallbackTtlMs', n.fallbackTtlMs, { min: 1, max: 86_400_000, integer: true }),
  };

  let userTagSecret = BUILTIN_TAG_KEY;
  if (input.userTagSecret !== undefined) {
    const s = input.userTagSecret;
    if (!(typeof s === 'string' || Buffer.isBuffer(s)) || Buffer.byteLength(s) < 16) {
      throw new InvalidOptionsError('userTagSecret', 'must be a string or Buffer of at least 16 bytes');
    }
    userTagSecret = Buffer.from(s);
  }

  if (input.metrics !== undefined && !isObject(input.metrics)) throw new InvalidOptionsError('metrics', 'must be an object');
  const metrics = { ...(input.metrics ?? {}) };
  checkKnown('metrics', metrics, ['sidecar', 'worker', 'intervalMs']);
  if (metrics.sidecar !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(String(metrics.sidecar));
    } catch {
      url = undefined;
    }
    if (typeof metrics.sidecar !== 'string' || !url || !/^https?:$/.test(url.protocol)) {
      throw new InvalidOptionsError('metrics.sidecar', `must be an http(s) URL, got ${describe(metrics.sidecar)}`);
    }
  }
  if (metrics.worker !== undefined && (typeof metrics.worker !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(metrics.worker))) {
    throw new InvalidOptionsError('metrics.worker', 'must match [A-Za-z0-9_.:-]{1,64}');
  }
  if (metrics.intervalMs !== undefined) num('metrics.intervalMs', metrics.intervalMs, { min: 100, max: 3_600_000, integer: true });

  return {
    redis,
    keyPrefix,
    idleTimeoutSec,
    absoluteTimeoutSec,
    touchFraction,
    maxSessionsPerUser,
    onLimit: o.onLimit,
    maxPayloadBytes,
    tombstoneTtlSec,
    commandTimeoutMs,
    connectTimeoutMs,
    durability,
    nearCache: nearCache as Required<NearCacheOptions>,
    userTagSecret,
    metrics,
  };
}
