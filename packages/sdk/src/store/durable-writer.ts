import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { DurabilityError, RedisTimeoutError, RedisUnavailableError } from '../errors';
import type { DurabilityOptions } from '../options';
import { mapRedisError, type RedisClient } from './redis-client';

/** A Lua script as the writer sends it: EVALSHA, then EVAL when the node does not know it. */
export interface DurableScript {
  readonly lua: string;
  /** How many of the leading arguments are keys. */
  readonly keys: number;
}

/** Redirections (MOVED, ASK) and TRYAGAIN retries followed by one write, within its deadline. */
const MAX_HOPS = 5;
/** Shortest time between two slot-map refreshes the writer asks the cluster for. */
const REFRESH_INTERVAL_MS = 100;
/** Name of the dedicated connections in CLIENT LIST. */
export const DURABLE_CONNECTION_NAME = 'sessioncache-durable';

type Results = Array<[Error | null, unknown]>;

/** One dedicated connection and the promise of its first `ready`. */
interface Conn {
  readonly redis: Redis;
  readonly ready: Promise<void>;
}

/** The dedicated connections to one node, used round-robin. */
interface Pool {
  readonly conns: Array<Conn | undefined>;
  next: number;
}

/** Rejects with RedisTimeoutError(timeoutMs) when `deadline` passes before `p` settles. */
function before<T>(p: Promise<T>, deadline: number, timeoutMs: number, onTimeout?: () => void): Promise<T> {
  const left = deadline - performance.now();
  if (left <= 0) {
    p.catch(() => undefined);
    onTimeout?.();
    return Promise.reject(new RedisTimeoutError(timeoutMs));
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new RedisTimeoutError(timeoutMs));
    }, left);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Sends durable writes (`[EVALSHA script, WAIT replicas timeoutMs]`) on connections of their
 * own, never on the ones ioredis shares between every read and write of a master.
 *
 * Why: WAIT blocks the connection it runs on until the replicas acknowledge or the timeout
 * passes. On ioredis' single connection per master, a shard with fewer replicas than required
 * (after a failover) had every read queue behind writes holding the connection for
 * `durability.timeoutMs`. And ioredis does not follow a MOVED in a pipeline whose other command
 * (WAIT) succeeded, so this writer follows MOVED and ASK itself: a redirection means the script
 * did not run, so sending it again elsewhere is safe.
 *
 * Cluster: `durability.connections` plain connections per master address (from the cluster's
 * slot map, with the cluster's `redisOptions`: auth, TLS, username), opened on first use.
 * Standalone: as many duplicates of the client. Connections never reconnect and never queue:
 * a closed one is replaced on next use, one that is not ready fails the call; one that misses
 * the call's deadline is dropped, so nothing piles up behind a frozen node.
 */
export class DurableWriter {
  readonly #client: RedisClient;
  readonly #durability: Required<DurabilityOptions>;
  readonly #pools = new Map<string, Pool>();
  readonly #shas = new Map<string, string>();
  readonly #onRefresh = (): void => this.#dropNonMasters();
  readonly #onNodeRemoved = (_redis: unknown, key?: string): void => {
    if (typeof key === 'string') this.#drop(key);
  };
  #lastRefresh = -Infinity;
  #closed = false;

  constructor(client: RedisClient, durability: Required<DurabilityOptions>) {
    this.#client = client;
    this.#durability = durability;
    if (client instanceof Cluster) {
      client.on('refresh', this.#onRefresh);
      client.on('-node', this.#onNodeRemoved);
    }
  }

  /**
   * Runs `script` with `args` (keys first) on the master of its first key, then WAIT, on a
   * dedicated connection. Resolves with the script's reply once `durability.replicas`
   * acknowledged it. Rejects with typed errors only: DurabilityError (fewer acknowledgements;
   * the write is on the master), RedisTimeoutError at `timeoutMs`, RedisUnavailableError when
   * no connection to the master is ready, RedisCommandError for a script error.
   */
  async write(script: DurableScript, args: ReadonlyArray<string | Buffer | number>, timeoutMs: number): Promise<unknown> {
    const deadline = performance.now() + timeoutMs;
    try {
      let addr = this.#masterOf(args[0]);
      let asking = false;
      for (let hop = 0; ; hop++) {
        const conn = await this.#acquire(addr, deadline, timeoutMs);
        const [scriptResult, waitResult] = await this.#send(conn, script, args, asking, deadline, timeoutMs);
        const [err, reply] = scriptResult;
        if (err) {
          const redirect = /^(MOVED|ASK) \d+ (\S+)/.exec(err.message);
          if (redirect && this.#client instanceof Cluster && hop < MAX_HOPS) {
            if (redirect[1] === 'MOVED') this.#refreshSlots();
            addr = this.#mapAddress(redirect[2]!);
            asking = redirect[1] === 'ASK';
            continue;
          }
          if (/^TRYAGAIN/.test(err.message) && hop < MAX_HOPS) {
            // A multi-key script during a slot migration: it did not run; try again shortly.
            await before(new Promise((r) => setTimeout(r, 50)), deadline, timeoutMs);
            continue;
          }
          throw err;
        }
        const [waitErr, acked] = waitResult;
        if (waitErr) throw waitErr;
        if (Number(acked) < this.#durability.replicas) throw new DurabilityError(Number(acked), this.#durability.replicas);
        return reply;
      }
    } catch (err) {
      const mapped = mapRedisError(err, timeoutMs);
      // ioredis aborts what a pipeline still awaited when its connection closes (a master
      // killed between the script's reply and WAIT's): a lost connection, outcome unknown.
      if (err instanceof Error && err.name === 'AbortError' && !(mapped instanceof RedisUnavailableError)) {
        throw new RedisUnavailableError(err.message, { cause: err });
      }
      throw mapped;
    }
  }

  /**
   * Closes every dedicated connection: QUIT (pending writes finish, bounded by the WAIT
   * timeout), then a hard disconnect. Idempotent; later writes fail with RedisUnavailableError.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#client instanceof Cluster) {
      this.#client.removeListener('refresh', this.#onRefresh);
      this.#client.removeListener('-node', this.#onNodeRemoved);
    }
    const all = [...this.#pools.keys()];
    await Promise.all(all.map((addr) => this.#drop(addr)));
  }

  /** Address (`host:port`, '' for standalone) of the master that owns `key`'s slot. */
  #masterOf(key: string | Buffer | number | undefined): string {
    const client = this.#client;
    if (!(client instanceof Cluster)) return '';
    const prefix = client.options.keyPrefix ?? '';
    const slot = calculateSlot(`${prefix}${String(key)}`);
    const addr = client.slots[slot]?.[0];
    if (!addr) {
      this.#refreshSlots();
      throw new RedisUnavailableError(`no master known for slot ${slot}`);
    }
    return addr;
  }

  /** Applies the cluster's natMap to an address from a redirection. */
  #mapAddress(addr: string): string {
    const mapper = (this.#client as unknown as { natMapper?: (k: string) => { host: string; port: number } }).natMapper;
    if (typeof mapper !== 'function') return addr;
    const node = mapper.call(this.#client, addr);
    return `${node.host}:${node.port}`;
  }

  /** Asks the cluster to reload its slot map (at most every REFRESH_INTERVAL_MS). */
  #refreshSlots(): void {
    const client = this.#client;
    if (!(client instanceof Cluster)) return;
    const now = performance.now();
    if (now - this.#lastRefresh < REFRESH_INTERVAL_MS) return;
    this.#lastRefresh = now;
    const refresh = (client as unknown as { refreshSlotsCache?: (cb?: (err?: Error) => void) => void }).refreshSlotsCache;
    if (typeof refresh === 'function') refresh.call(client, () => undefined);
  }

  /** The next connection of `addr`'s pool, ready; opens it on first use, within the deadline. */
  async #acquire(addr: string, deadline: number, timeoutMs: number): Promise<Conn> {
    if (this.#closed) throw new RedisUnavailableError('the durable-write connections are closed');
    let pool = this.#pools.get(addr);
    if (!pool) this.#pools.set(addr, (pool = { conns: new Array<Conn | undefined>(this.#durability.connections).fill(undefined), next: 0 }));
    const i = pool.next;
    pool.next = (i + 1) % pool.conns.length;
    let conn = pool.conns[i];
    if (conn && (conn.redis.status === 'close' || conn.redis.status === 'end')) {
      conn = undefined;
    }
    if (!conn) pool.conns[i] = conn = this.#open(addr, pool, i);
    if (conn.redis.status === 'ready') return conn;
    const opening = conn;
    // Still opening (a closed one was replaced above): wait for its first `ready` within the
    // deadline; nothing is queued on it meanwhile.
    await before(opening.ready, deadline, timeoutMs, () => this.#discard(opening));
    if (opening.redis.status !== 'ready') throw new RedisUnavailableError(`durable-write connection to ${addr || 'the node'} is ${opening.redis.status}`);
    return opening;
  }

  /** Creates slot `i` of `pool`; it removes itself from the pool when it ends. */
  #open(addr: string, pool: Pool, i: number): Conn {
    const overrides: Partial<RedisOptions> = {
      connectionName: DURABLE_CONNECTION_NAME,
      enableOfflineQueue: false,
      lazyConnect: true,
      // The writer replaces a lost connection on next use: no reconnection timers.
      retryStrategy: () => null,
      // The call's own deadline bounds WAIT (which may take durability.timeoutMs).
      commandTimeout: undefined,
      maxRetriesPerRequest: 0,
      readOnly: false,
    };
    let redis: Redis;
    const client = this.#client;
    if (client instanceof Cluster) {
      const i2 = addr.lastIndexOf(':');
      redis = new Redis({
        ...(client.options.redisOptions ?? {}),
        ...(client.options.keyPrefix ? { keyPrefix: client.options.keyPrefix } : {}),
        ...overrides,
        host: addr.slice(0, i2).replace(/^\[(.*)\]$/, '$1'),
        port: Number(addr.slice(i2 + 1)),
      });
    } else {
      redis = client.duplicate(overrides);
    }
    let lastError: unknown;
    redis.on('error', (e: unknown) => {
      lastError = e;
    });
    const ready = new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', () => reject(lastError ?? new Error('Connection is closed.')));
    });
    ready.catch(() => undefined);
    const conn: Conn = { redis, ready };
    redis.once('end', () => {
      if (pool.conns[i] === conn) pool.conns[i] = undefined;
      if (pool.conns.every((c) => c === undefined) && this.#pools.get(addr) === pool) this.#pools.delete(addr);
    });
    redis.connect().catch(() => undefined);
    return conn;
  }

  /** Sends `[ASKING?, EVALSHA, WAIT]`; on NOSCRIPT sends it again with EVAL (the script did not run). */
  async #send(
    conn: Conn,
    script: DurableScript,
    args: ReadonlyArray<string | Buffer | number>,
    asking: boolean,
    deadline: number,
    timeoutMs: number,
  ): Promise<[[Error | null, unknown], [Error | null, unknown]]> {
    let sha = this.#shas.get(script.lua);
    if (!sha) this.#shas.set(script.lua, (sha = createHash('sha1').update(script.lua).digest('hex')));
    for (const command of ['evalsha', 'eval'] as const) {
      const p = conn.redis.pipeline();
      if (asking) p.asking();
      p.callBuffer(command, command === 'evalsha' ? sha : script.lua, script.keys, ...args);
      p.call('wait', this.#durability.replicas, this.#durability.timeoutMs);
      // A connection that misses the deadline may hold a frozen node's replies: drop it so
      // later writes do not queue behind it.
      const results = ((await before(p.exec(), deadline, timeoutMs, () => this.#discard(conn))) ?? []) as Results;
      const off = asking ? 1 : 0;
      const scriptResult = results[off] ?? [new Error('missing pipeline reply'), null];
      const waitResult = results[off + 1] ?? [new Error('missing pipeline reply'), null];
      if (command === 'evalsha' && scriptResult[0] && /NOSCRIPT/.test(scriptResult[0].message)) continue;
      return [scriptResult, waitResult];
    }
    throw new Error('NOSCRIPT after EVAL');
  }

  /** Takes `conn` out of its pool and closes it at once (what it had pending fails). */
  #discard(conn: Conn): void {
    for (const pool of this.#pools.values()) {
      const i = pool.conns.indexOf(conn);
      if (i >= 0) pool.conns[i] = undefined;
    }
    conn.redis.disconnect();
  }

  /** Closes the connections to `addr`: QUIT after what is pending, bounded, then disconnect. */
  async #drop(addr: string): Promise<void> {
    const pool = this.#pools.get(addr);
    if (!pool) return;
    this.#pools.delete(addr);
    const conns = pool.conns.filter((c): c is Conn => c !== undefined);
    pool.conns.fill(undefined);
    const bound = this.#durability.timeoutMs + 1000;
    await Promise.all(
      conns.map(async ({ redis }) => {
        if (redis.status === 'ready') {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            redis.quit().catch(() => undefined),
            new Promise<void>((r) => {
              timer = setTimeout(r, bound);
              timer.unref();
            }),
          ]);
          clearTimeout(timer);
        }
        redis.disconnect();
      }),
    );
  }

  /** After a slot-map refresh: closes the connections to addresses that own no slot any more. */
  #dropNonMasters(): void {
    const client = this.#client;
    if (!(client instanceof Cluster) || this.#pools.size === 0) return;
    const masters = new Set<string>();
    for (const owners of client.slots) if (owners?.[0]) masters.add(owners[0]);
    if (masters.size === 0) return;
    for (const addr of this.#pools.keys()) if (!masters.has(addr)) void this.#drop(addr);
  }
}
