import { performance } from 'node:perf_hooks';
import calculateSlot from 'cluster-key-slot';
import { Cluster, type RedisOptions } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { freezeSession } from '../freeze';
import type { ParsedSessionId } from '../ids';
import type { Instrumentation } from '../instrumentation';
import { FLUSH_REASONS, type FlushReason } from '../metrics/catalog';
import {
  counterTotal,
  selectHistograms,
  summarizeLatency,
  type CounterHandle,
  type HistogramHandle,
  type LatencySummary,
  type SdkStats,
  type StatsSnapshot,
} from '../metrics/stats';
import type { RedisTarget, ResolvedOptions } from '../options';
import type { Session } from '../session';
import type { RedisClient } from '../store/redis-client';
import type { LoadedSession, SessionStore, TouchResult } from '../store/session-store';
import { NodeTracker } from './node-tracker';

/** How the near cache currently stays correct. */
export type NearCacheMode = 'tracking' | 'ttl-only' | 'disabled';

/** Near-cache part of `cache.stats()`. */
export interface NearCacheStats {
  enabled: boolean;
  /** `tracking`: invalidated by Redis; `ttl-only`: entries live `fallbackTtlMs` at most. */
  mode: NearCacheMode;
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 when nothing was read. */
  hitRate: number;
  entries: number;
  bytes: number;
  evictions: { capacity: number; expired: number };
  /** Key invalidations received from Redis. */
  invalidations: number;
  /** Wholesale drops by reason. */
  flushes: Record<FlushReason, number>;
  /** Write acknowledged (by this process) to its invalidation received, in seconds. */
  invalidationLag: LatencySummary;
  /** Masters whose invalidation is armed now / known. */
  trackedNodes: { armed: number; total: number };
}

/** Per-entry bookkeeping cost added to the encoded size when bounding by bytes. */
const ENTRY_OVERHEAD_BYTES = 256;
/** Bound on pending own-write timestamps kept for the lag histogram. */
const MAX_PENDING_LAG = 10_000;
/** Marks an own write sent but not yet acknowledged. */
const PENDING = -1;

interface Entry {
  /** The id it was read for: its hash (computed once) binds encrypted values; refreshes use it. */
  p: ParsedSessionId;
  /** Frozen session handed out on hits (when `fields` is undefined). */
  session: Session;
  /** Raw reply kept for sessions holding Dates/Buffers: each hit decodes a fresh copy. */
  fields: Buffer[] | undefined;
  key: string;
  /** Tracker of the node the entry was read from and its epoch then (tracking mode). */
  tracker: NodeTracker | undefined;
  epoch: number;
  size: number;
  /** performance.now() at which the idle timeout should be refreshed in Redis. */
  refreshDueAt: number;
}

/** A write by this process whose invalidation has not arrived yet (for the lag histogram). */
export interface OwnWrite {
  readonly key: string;
  /** performance.now() of its acknowledgement, or PENDING. */
  ackedAt: number;
}

interface Inflight {
  key: string;
  invalidated: boolean;
  promise: Promise<LoadedSession | null>;
}

export interface NearCacheDeps {
  options: ResolvedOptions;
  /** The cluster or node this near cache's entries come from (connection options for the trackers). */
  target: RedisTarget;
  client: RedisClient;
  store: SessionStore;
  stats: SdkStats;
  logger: { warn(message: string, context?: Record<string, unknown>): void };
  touch: (p: ParsedSessionId) => Promise<TouchResult | null>;
}

/**
 * The in-process near cache: lru-cache bounded by entries and bytes, local TTL never above the
 * Redis TTL nor maxTtlMs, kept correct by Redis server-assisted invalidation (one
 * {@link NodeTracker} per master). The six rules it keeps:
 *
 * 1. A read in flight never installs its reply if an invalidation for its key arrived
 *    meanwhile (per-read token), or if its node lost trust or the topology changed meanwhile.
 * 2. Losing a subscriber or tracker connection, a failover or a slot move drops the entries of
 *    that node (or all, on a topology change) before serving again; a node is only trusted
 *    once tracking is re-armed.
 * 3. A null invalidation (FLUSHALL) drops what came from that node.
 * 4. Writes by this process drop the local entry before the write and again after its reply.
 * 5. A server refusing CLIENT TRACKING switches the cache to TTL-only (fallbackTtlMs).
 * 6. Hits return frozen objects, or a fresh decode for data freezing cannot protect.
 * Concurrent misses for one id share one Redis read.
 */
export class NearCache {
  readonly #deps: NearCacheDeps;
  readonly #opts: ResolvedOptions['nearCache'];
  readonly #lru: LRUCache<string, Entry> | undefined;
  readonly #keyToId = new Map<string, string>();
  readonly #inflight = new Map<string, Inflight>();
  readonly #inflightByKey = new Map<string, Inflight>();
  readonly #trackers = new Map<string, NodeTracker>();
  readonly #ownWrites = new Map<string, OwnWrite[]>();
  readonly #touching = new Set<string>();
  #mode: NearCacheMode;
  #topologyEpoch = 0;
  #slotSignature = '';
  #closed = false;
  readonly #hits: CounterHandle;
  readonly #misses: CounterHandle;
  readonly #invalidations: CounterHandle;
  readonly #evictCapacity: CounterHandle;
  readonly #evictExpired: CounterHandle;
  readonly #flushes: Record<FlushReason, CounterHandle>;
  readonly #lag: HistogramHandle;
  readonly #onRefresh = (): void => this.#syncTopology();

  constructor(deps: NearCacheDeps) {
    this.#deps = deps;
    this.#opts = deps.options.nearCache;
    const s = deps.stats;
    this.#hits = s.counter('near_cache_requests_total', { result: 'hit' });
    this.#misses = s.counter('near_cache_requests_total', { result: 'miss' });
    this.#invalidations = s.counter('near_cache_invalidations_total', {});
    this.#evictCapacity = s.counter('near_cache_evictions_total', { reason: 'capacity' });
    this.#evictExpired = s.counter('near_cache_evictions_total', { reason: 'expired' });
    this.#flushes = Object.fromEntries(FLUSH_REASONS.map((r) => [r, s.counter('near_cache_flushes_total', { reason: r })])) as Record<FlushReason, CounterHandle>;
    this.#lag = s.histogram('invalidation_lag_seconds', {});
    if (!this.#opts.enabled) {
      this.#mode = 'disabled';
    } else {
      this.#mode = this.#opts.invalidation === 'tracking' ? 'tracking' : 'ttl-only';
      this.#lru = new LRUCache<string, Entry>({
        // lru-cache allocates its index (~46 bytes per slot) for `max` entries up front. Every
        // entry is charged at least ENTRY_OVERHEAD_BYTES, so the byte budget can never hold more
        // than maxBytes / ENTRY_OVERHEAD_BYTES entries: don't allocate slots it cannot fill.
        max: Math.max(1, Math.min(this.#opts.maxEntries, Math.floor(this.#opts.maxBytes / ENTRY_OVERHEAD_BYTES))),
        maxSize: this.#opts.maxBytes,
        sizeCalculation: (e) => e.size,
        ttl: this.#opts.maxTtlMs,
        updateAgeOnGet: false,
        allowStale: false,
        dispose: (e, id, reason) => {
          if (this.#keyToId.get(e.key) === id) this.#keyToId.delete(e.key);
          if (reason === 'evict') this.#evictCapacity.inc();
          else if (reason === 'expire') this.#evictExpired.inc();
        },
      });
    }
  }

  /** Entries held now. */
  get size(): number {
    return this.#lru?.size ?? 0;
  }

  /** Bytes accounted now. */
  get calculatedSize(): number {
    return this.#lru?.calculatedSize ?? 0;
  }

  /** Current mode. */
  get mode(): NearCacheMode {
    return this.#mode;
  }

  /** Arms invalidation on every master (tracking mode); resolves once each attempted once. */
  async start(): Promise<void> {
    if (this.#mode !== 'tracking') return;
    const client = this.#deps.client;
    if (client instanceof Cluster) {
      client.on('refresh', this.#onRefresh);
      client.on('+node', this.#onRefresh);
      client.on('-node', this.#onRefresh);
    }
    this.#syncTopology();
    await Promise.all([...this.#trackers.values()].map((t) => t.start()));
  }

  /** Masters and the slot owner table of the data client. */
  #topology(): { masters: Array<{ key: string; host: string; port: number }>; signature: string } {
    const client = this.#deps.client;
    if (!(client instanceof Cluster)) {
      const { host = '127.0.0.1', port = 6379 } = client.options;
      return { masters: [{ key: `${host}:${port}`, host, port }], signature: `${host}:${port}` };
    }
    const masters = new Map<string, { key: string; host: string; port: number }>();
    const parts: string[] = [];
    let last: string | undefined;
    for (let slot = 0; slot < 16384; slot++) {
      const owner = client.slots[slot]?.[0];
      if (owner !== last) {
        parts.push(`${slot}=${owner ?? '-'}`);
        last = owner;
      }
      if (owner && !masters.has(owner)) {
        const i = owner.lastIndexOf(':');
        masters.set(owner, { key: owner, host: owner.slice(0, i), port: Number(owner.slice(i + 1)) });
      }
    }
    return { masters: [...masters.values()], signature: parts.join(',') };
  }

  /** Follows topology changes: new masters get a tracker, a changed slot map flushes all. */
  #syncTopology(): void {
    if (this.#mode !== 'tracking' || this.#closed) return;
    const { masters, signature } = this.#topology();
    if (this.#slotSignature && signature !== this.#slotSignature) {
      this.#topologyEpoch++;
      this.flush('topology_change');
    }
    this.#slotSignature = signature;
    const wanted = new Set(masters.map((m) => m.key));
    for (const m of masters) {
      if (this.#trackers.has(m.key)) continue;
      const tracker = new NodeTracker(m.key, m.host, m.port, this.#deps.store.keys.sessionPrefix, this.#trackerRedisOptions(), {
        onInvalidate: (keys) => this.#onInvalidate(tracker, keys),
        onLost: (reason) => this.#flushNode(tracker, reason),
        onUnsupported: (err) => this.#fallBackToTtlOnly(err),
      });
      this.#trackers.set(m.key, tracker);
      void tracker.start();
    }
    for (const [key, t] of this.#trackers) {
      if (!wanted.has(key)) {
        t.close();
        this.#trackers.delete(key);
        this.#flushNode(t, 'topology_change');
      }
    }
  }

  /** Connection options (auth, TLS, ...) the user gave for data connections. */
  #trackerRedisOptions(): RedisOptions {
    const r = this.#deps.target;
    const base = 'cluster' in r ? (r.options?.redisOptions ?? {}) : (r.options ?? {});
    const { username, password, tls, family, keepAlive, noDelay } = base as RedisOptions;
    return { username, password, tls, family, keepAlive, noDelay };
  }

  #fallBackToTtlOnly(err: Error): void {
    if (this.#mode !== 'tracking') return;
    this.#mode = 'ttl-only';
    for (const t of this.#trackers.values()) t.close();
    this.#trackers.clear();
    this.flush('tracking_unavailable');
    this.#deps.logger.warn('sessioncache: Redis refused CLIENT TRACKING; the near cache runs TTL-only (entries live at most nearCache.fallbackTtlMs)', {
      reason: err.message,
    });
  }

  #onInvalidate(tracker: NodeTracker, keys: Buffer[] | null): void {
    if (keys === null) {
      this.#flushNode(tracker, 'flushall');
      return;
    }
    const now = performance.now();
    for (const k of keys) {
      const key = k.toString();
      this.#invalidations.inc();
      this.invalidateKey(key);
      const queue = this.#ownWrites.get(key);
      const w = queue?.shift();
      if (queue && queue.length === 0) this.#ownWrites.delete(key);
      if (w) {
        w.ackedAt = w.ackedAt === PENDING ? now : w.ackedAt; // invalidated before its reply: zero lag
        this.#lag.observe((now - w.ackedAt) / 1000);
      }
    }
  }

  /** Drops one key locally (own writes, evictions by the per-user limit, invalidations). */
  invalidateKey(key: string): void {
    const inflight = this.#inflightByKey.get(key);
    if (inflight) inflight.invalidated = true;
    const id = this.#keyToId.get(key);
    if (id !== undefined) this.#lru?.delete(id);
  }

  /**
   * Starts a write by this process: drops the local entry (rule 4) and queues a token so that
   * its invalidation can be timed (writes to one key are invalidated in order, so tokens are
   * matched first in, first out). The invalidation may arrive before the write's reply (it
   * travels on another connection): it then counts as zero lag.
   */
  beginWrite(key: string): OwnWrite {
    this.invalidateKey(key);
    const w: OwnWrite = { key, ackedAt: PENDING };
    if (this.#mode !== 'tracking') return w;
    if (this.#ownWrites.size >= MAX_PENDING_LAG) this.#ownWrites.clear();
    const queue = this.#ownWrites.get(key);
    if (queue) queue.push(w);
    else this.#ownWrites.set(key, [w]);
    return w;
  }

  /** The write was acknowledged: its invalidation lag starts now. */
  noteOwnWrite(w: OwnWrite): void {
    if (w.ackedAt === PENDING) w.ackedAt = performance.now();
  }

  /** Ends a write (acknowledged or failed): drops the local entry again, forgets a failed one. */
  finishWrite(w: OwnWrite): void {
    this.invalidateKey(w.key);
    if (w.ackedAt !== PENDING) return;
    const queue = this.#ownWrites.get(w.key);
    const i = queue ? queue.indexOf(w) : -1;
    if (i >= 0) queue!.splice(i, 1);
    if (queue && queue.length === 0) this.#ownWrites.delete(w.key);
  }

  /**
   * The invalidations of writes made before a lost connection may never come: forget their lag
   * tokens, or each would be matched with a later invalidation of its key and record a lag that
   * is the time between two writes. Writes in flight then record no sample (finishWrite copes).
   */
  #forgetLagTokens(): void {
    this.#ownWrites.clear();
  }

  /** Drops everything (and marks reads in flight as stale). */
  flush(reason: FlushReason): void {
    this.#flushes[reason].inc();
    this.#forgetLagTokens();
    for (const inflight of this.#inflight.values()) inflight.invalidated = true;
    this.#lru?.clear();
    this.#keyToId.clear();
  }

  /** Drops what came from one node: it lost trust, or sent FLUSHALL. */
  #flushNode(tracker: NodeTracker, reason: FlushReason): void {
    this.#flushes[reason].inc();
    this.#forgetLagTokens();
    for (const inflight of this.#inflight.values()) inflight.invalidated = true;
    if (!this.#lru) return;
    for (const [id, e] of this.#lru.entries()) if (e.tracker === tracker) this.#lru.delete(id);
  }

  /** The tracker to trust for a read of `key` now, or null when replies must not be cached. */
  #trackerFor(key: string): NodeTracker | undefined | null {
    if (this.#mode === 'ttl-only') return undefined;
    const client = this.#deps.client;
    const nodeKey = client instanceof Cluster ? client.slots[calculateSlot(key)]?.[0] : this.#trackers.keys().next().value;
    const t = nodeKey === undefined ? undefined : this.#trackers.get(nodeKey);
    return t?.armed ? t : null;
  }

  #valid(e: Entry): boolean {
    if (this.#mode === 'tracking') return e.tracker !== undefined && e.tracker.armed && e.tracker.epoch === e.epoch;
    return this.#mode === 'ttl-only';
  }

  #fromEntry(e: Entry): Session {
    if (!e.fields) return e.session;
    return freezeSession(this.#deps.store.decodeSession(e.p.id, e.fields, e.p).session);
  }

  /**
   * The hit path alone, keyed by the raw id: only ids that passed the strict format check are
   * ever installed, so a hit needs no re-validation (the check costs more than the lookup).
   * Returns undefined when the id is not cached and trusted; the caller then takes `get`.
   */
  tryHit(id: string, inst: Instrumentation): Session | undefined {
    const e = this.#lru?.get(id);
    return e !== undefined && this.#valid(e) ? this.#serveHit(e, inst) : undefined;
  }

  /**
   * A session by id: from memory when cached and trusted, else one shared Redis read whose
   * reply is installed only if nothing invalidated it meanwhile. The hit path is synchronous up
   * to one resolved promise: no async frame.
   */
  get(p: ParsedSessionId, load: (p: ParsedSessionId) => Promise<LoadedSession | null>, inst: Instrumentation): Promise<Session | null> {
    const lru = this.#lru;
    if (lru) {
      const e = lru.get(p.id);
      if (e !== undefined) {
        if (this.#valid(e)) return Promise.resolve(this.#serveHit(e, inst));
        lru.delete(p.id);
      }
      this.#misses.inc();
    }
    return this.#getMiss(p, load, inst, inst.start());
  }

  /** A trusted entry handed out: counted, timed, and its idle-timeout refresh started when due. */
  #serveHit(e: Entry, inst: Instrumentation): Session {
    const t0 = inst.start();
    this.#hits.inc();
    if (t0 >= e.refreshDueAt) this.#refresh(e);
    const s = this.#fromEntry(e);
    inst.nearGetHit(t0);
    return s;
  }

  #getMiss(p: ParsedSessionId, load: (p: ParsedSessionId) => Promise<LoadedSession | null>, inst: Instrumentation, t0: number): Promise<Session | null> {
    // Not async: then() with two handlers costs fewer promise jobs than await in try/catch.
    let read: Promise<LoadedSession | null>;
    try {
      read = this.#read(p, load);
    } catch (err) {
      read = Promise.reject(err as Error);
    }
    return read.then(
      (loaded) => {
        inst.done('get', 'redis', loaded ? 'ok' : 'not_found', t0);
        if (!loaded) return null;
        if (!loaded.fields || !loaded.mutableLeaves) return loaded.session;
        // Dates and Buffers cannot be frozen: every caller needs a copy of its own. The first
        // caller of the read takes the decoded one; callers that joined it decode theirs.
        if (!loaded.claimed) {
          loaded.claimed = true;
          return loaded.session;
        }
        return freezeSession(this.#deps.store.decodeSession(p.id, loaded.fields, p).session);
      },
      (err: unknown) => {
        inst.done('get', 'redis', 'error', t0);
        inst.error((err as { code?: string }).code ?? 'SC_ERR_REDIS');
        throw err;
      },
    );
  }

  /** One Redis read per id at a time (single flight), installed only if still valid. */
  #read(p: ParsedSessionId, load: (p: ParsedSessionId) => Promise<LoadedSession | null>): Promise<LoadedSession | null> {
    const existing = this.#inflight.get(p.id);
    // A read that an invalidation overtook may return the old value: later callers must not share it.
    if (existing && !existing.invalidated) return existing.promise;
    if (!this.#lru) {
      return load(p).then((l) => {
        if (l) freezeSession(l.session); // this caller's own read: nothing else holds it
        return l;
      });
    }
    const key = this.#deps.store.keys.session(p.tag, p.hash);
    const tracker = this.#trackerFor(key);
    const epoch = tracker?.epoch ?? 0;
    const topology = this.#topologyEpoch;
    const inflight: Inflight = { key, invalidated: false, promise: undefined as unknown as Promise<LoadedSession | null> };
    const cleanup = (): void => {
      if (this.#inflight.get(p.id) === inflight) this.#inflight.delete(p.id);
      if (this.#inflightByKey.get(key) === inflight) this.#inflightByKey.delete(key);
    };
    inflight.promise = load(p).then(
      (loaded) => {
        cleanup();
        if (!loaded) return null;
        freezeSession(loaded.session);
        if (
          tracker !== null &&
          !inflight.invalidated &&
          !this.#closed &&
          this.#topologyEpoch === topology &&
          (tracker === undefined ? this.#mode === 'ttl-only' : tracker.armed && tracker.epoch === epoch)
        ) {
          this.#install(p, key, loaded, tracker);
        }
        return loaded;
      },
      (err) => {
        cleanup();
        throw err;
      },
    );
    this.#inflight.set(p.id, inflight);
    this.#inflightByKey.set(key, inflight);
    return inflight.promise;
  }

  #install(p: ParsedSessionId, key: string, loaded: LoadedSession, tracker: NodeTracker | undefined): void {
    const cap = this.#mode === 'tracking' ? this.#opts.maxTtlMs : this.#opts.fallbackTtlMs;
    const ttl = Math.min(cap, loaded.pttl);
    if (!(ttl > 0)) return;
    const s = loaded.session;
    const idleMs = s.idleExpiresAt - s.lastAccessAt;
    const dueIn = s.lastAccessAt + idleMs * this.#deps.options.touchFraction - loaded.serverNow;
    const entry: Entry = {
      p,
      session: s,
      fields: loaded.mutableLeaves ? loaded.fields : undefined,
      key,
      tracker,
      epoch: tracker?.epoch ?? 0,
      size: loaded.bytes + ENTRY_OVERHEAD_BYTES + 2 * (key.length + p.id.length),
      refreshDueAt: performance.now() + Math.max(0, dueIn),
    };
    this.#lru!.set(p.id, entry, { ttl });
    if (this.#lru!.has(p.id)) this.#keyToId.set(key, p.id);
  }

  /**
   * Refreshes the idle timeout in Redis in the background when a hit finds it due. The
   * refresh invalidates every instance once; not refreshing would let a session read only from
   * memory expire in Redis.
   */
  #refresh(e: Entry): void {
    const p = e.p;
    if (this.#touching.has(p.id)) return;
    this.#touching.add(p.id);
    e.refreshDueAt = performance.now() + 1000; // no retry storm if Redis is slow
    this.#deps.touch(p).then(
      (res) => {
        this.#touching.delete(p.id);
        if (!res) {
          this.invalidateKey(e.key);
          return;
        }
        if (!res.refreshed) {
          const idleMs = e.session.idleExpiresAt - e.session.lastAccessAt;
          e.refreshDueAt = performance.now() + Math.max(1000, res.lastAccessAt + idleMs * this.#deps.options.touchFraction - res.serverNow);
        }
      },
      (err) => {
        this.#touching.delete(p.id);
        this.#deps.logger.warn('sessioncache: background idle-timeout refresh failed', { reason: (err as Error).message });
      },
    );
  }

  /**
   * For `touch`: true when the session is cached, trusted and its refresh is not due (no Redis
   * call needed); undefined when Redis must be asked.
   */
  touchLocal(p: ParsedSessionId): boolean | undefined {
    const e = this.#lru?.get(p.id);
    if (e === undefined || !this.#valid(e)) return undefined;
    return performance.now() < e.refreshDueAt ? true : undefined;
  }

  /** Trackers by node key (tests use them to kill the invalidation connections). */
  get trackers(): ReadonlyMap<string, NodeTracker> {
    return this.#trackers;
  }

  stats(snap: StatsSnapshot): NearCacheStats {
    const hits = counterTotal(snap, 'near_cache_requests_total', { result: 'hit' });
    const misses = counterTotal(snap, 'near_cache_requests_total', { result: 'miss' });
    return {
      enabled: this.#mode !== 'disabled',
      mode: this.#mode,
      hits,
      misses,
      hitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
      entries: this.#lru?.size ?? 0,
      bytes: this.#lru?.calculatedSize ?? 0,
      evictions: {
        capacity: counterTotal(snap, 'near_cache_evictions_total', { reason: 'capacity' }),
        expired: counterTotal(snap, 'near_cache_evictions_total', { reason: 'expired' }),
      },
      invalidations: counterTotal(snap, 'near_cache_invalidations_total'),
      flushes: Object.fromEntries(FLUSH_REASONS.map((r) => [r, counterTotal(snap, 'near_cache_flushes_total', { reason: r })])) as Record<FlushReason, number>,
      invalidationLag: summarizeLatency(selectHistograms(snap, 'invalidation_lag_seconds')),
      trackedNodes: { armed: [...this.#trackers.values()].filter((t) => t.armed).length, total: this.#trackers.size },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#deps.client;
    if (client instanceof Cluster) {
      client.removeListener('refresh', this.#onRefresh);
      client.removeListener('+node', this.#onRefresh);
      client.removeListener('-node', this.#onRefresh);
    }
    for (const t of this.#trackers.values()) t.close();
    this.#trackers.clear();
    if (this.#lru && this.#lru.size > 0) this.flush('closed');
  }
}
