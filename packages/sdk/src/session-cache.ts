import { Codec, type EncryptionOptions } from './codec';
import {
  CacheClosedError,
  InvalidArgumentError,
  InvalidOptionsError,
  InvalidSessionIdError,
  SessionCacheError,
  SessionNotFoundError,
} from './errors';
import { SESSION_ID_LENGTH, checkSessionId, generateSessionId, parseSessionId, randomTag, userTag, idFingerprint, type ParsedSessionId } from './ids';
import { Instrumentation, resultOf } from './instrumentation';
import type { Operation } from './metrics/catalog';
import { MetricsReporter, type ReporterStats } from './metrics/reporter';
import { SdkStats, counterTotal, selectHistograms, summarizeLatency, type LatencySummary } from './metrics/stats';
import { NearCache, type NearCacheStats } from './near-cache/near-cache';
import { resolveOptions, type RedisTarget, type ResolvedOptions, type SessionCacheOptions } from './options';
import { CellRouter } from './routing/ring';
import type { CreateSessionInput, RegenerateOptions, Session, SessionInfo, UpdateOptions } from './session';
import { InFlightGate } from './store/in-flight';
import { parseSessionKey } from './store/keys';
import { createRedisClient, waitReady, type RedisClient } from './store/redis-client';
import { coalesceWrites } from './store/write-coalescing';
import { SessionStore, type LoadedSession } from './store/session-store';
import { deepFreeze, freezeSession } from './freeze';

/** Where the SDK reports problems it handles itself (corrupt payloads, background touches). */
export interface SessionCacheLogger {
  warn(message: string, context?: Record<string, unknown>): void;
}

/** Options of {@link SessionCache.connect}: {@link SessionCacheOptions} plus injectables. */
export interface ConnectOptions extends SessionCacheOptions {
  /** Encryption of attribute values at rest (AES-256-GCM, key ids for rotation). @default off */
  encryption?: EncryptionOptions;
  /**
   * Where warnings go. Session ids are never logged; a keyed fingerprint is.
   * @default process.emitWarning
   */
  logger?: SessionCacheLogger;
  /**
   * Most Redis commands in flight at once, over every cell; beyond it calls fail at once with
   * RedisUnavailableError instead of queueing while Redis is slow or down. A command counts
   * until Redis answers it or its connection closes, even when its caller already got a
   * RedisTimeoutError, so this also bounds the commands held in memory for a frozen node.
   * @default 10000
   */
  maxInFlight?: number;
}

/** What {@link SessionCache.stats} returns. */
export interface CacheStats {
  /** Operations by name and result. */
  operations: Record<string, Record<string, number>>;
  /** Errors by code (SC_ERR_*), including decode failures that read as "no session". */
  errors: Record<string, number>;
  /** Payloads in Redis that could not be decoded (read as null). */
  decodeFailures: number;
  /** Latency in seconds by tier. */
  latency: { near: LatencySummary; redis: LatencySummary };
  /** Near-cache state and counters. */
  nearCache: NearCacheStats;
  /** Redis commands sent and not yet answered (timed-out ones included). */
  inFlight: number;
}

/** One cell: a Redis Cluster or node with its own store and near cache. */
interface Cell {
  name: string;
  client: RedisClient;
  store: SessionStore;
  near: NearCache;
  /** Reads one session from this cell (decode failures read as null). */
  load: (p: ParsedSessionId) => Promise<LoadedSession | null>;
}

const defaultLogger: SessionCacheLogger = {
  warn(message, context) {
    process.emitWarning(context ? `${message} ${JSON.stringify(context)}` : message, 'SessionCacheWarning');
  },
};

const USER_ID_MAX = 256;

function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > USER_ID_MAX) {
    throw new InvalidArgumentError(`userId must be a string of 1 to ${USER_ID_MAX} characters`);
  }
  return userId;
}

function checkTimeout(name: string, v: unknown, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`);
  }
  return v;
}

/**
 * Sessions on Redis Cluster with an in-process near cache kept correct by Redis
 * server-assisted invalidation. Create one per process with {@link SessionCache.connect} and
 * share it.
 */
export class SessionCache implements AsyncDisposable {
  readonly #opts: ResolvedOptions;
  /** Every cell (one, named 'default', unless `redis.cells` is used). */
  readonly #cells = new Map<string, Cell>();
  /** The ring of cells; undefined for a single target. */
  readonly #router: CellRouter | undefined;
  /** The first cell: the only one for `{ cluster }` or `{ standalone }`. */
  readonly #primary: Cell;
  readonly #stats: SdkStats;
  readonly #inst: Instrumentation;
  readonly #logger: SessionCacheLogger;
  /** `maxInFlight`: bounds the Redis commands of every cell together, until each one settles. */
  readonly #gate: InFlightGate;
  readonly #logKey: Buffer;
  #reporter: MetricsReporter | undefined;
  #closed = false;

  private constructor(opts: ResolvedOptions, extra: Pick<ConnectOptions, 'logger' | 'maxInFlight'>, codec: Codec) {
    this.#opts = opts;
    this.#logger = extra.logger ?? defaultLogger;
    this.#gate = new InFlightGate(extra.maxInFlight ?? 10_000);
    this.#stats = new SdkStats();
    this.#inst = new Instrumentation(this.#stats);
    this.#logKey = Buffer.from(generateSessionId().id);
    const r = opts.redis;
    let targets: Array<[string, RedisTarget]>;
    if ('cells' in r) {
      this.#router = CellRouter.fromCells(r.cells, r.previousCells);
      const byName = new Map<string, RedisTarget>();
      for (const c of [...(r.previousCells ?? []), ...r.cells]) byName.set(c.name, c);
      targets = this.#router.allCells.map((name) => [name, byName.get(name)!]);
    } else {
      this.#router = undefined;
      targets = [['default', r]];
    }
    for (const [name, target] of targets) this.#cells.set(name, this.#makeCell(name, target, codec));
    this.#primary = this.#cells.values().next().value!;
    const cells = [...this.#cells.values()];
    this.#stats.gauge('near_cache_entries', {}, () => cells.reduce((n, c) => n + c.near.size, 0));
    this.#stats.gauge('near_cache_bytes', {}, () => cells.reduce((n, c) => n + c.near.calculatedSize, 0));
    this.#stats.gauge('near_cache_tracking', {}, () => (cells.every((c) => c.near.mode === 'tracking') ? 1 : 0));
  }

  #makeCell(name: string, target: RedisTarget, codec: Codec): Cell {
    const client = createRedisClient(target, this.#opts);
    coalesceWrites(client);
    client.on('error', () => undefined); // surfaced through the calls that fail
    const store = new SessionStore(client, this.#opts, codec, this.#gate);
    const near = new NearCache({
      options: this.#opts,
      target,
      client,
      store,
      stats: this.#stats,
      logger: this.#logger,
      touch: (p) => store.touch(p, false),
    });
    return { name, client, store, near, load: (p) => this.#readStored(store, p, true) };
  }

  /**
   * Validates the options, connects, and resolves once the cluster is ready and the near
   * cache's invalidation is armed (or its fallback chosen). Throws InvalidOptionsError for bad
   * options, RedisUnavailableError when Redis is not ready within `connectTimeoutMs`.
   */
  static async connect(options: ConnectOptions): Promise<SessionCache> {
    const { encryption, logger, maxInFlight, ...rest } = (options ?? {}) as ConnectOptions;
    const opts = resolveOptions(rest);
    if (maxInFlight !== undefined && (!Number.isInteger(maxInFlight) || maxInFlight < 1)) {
      throw new InvalidOptionsError('maxInFlight', 'must be a positive integer');
    }
    if (logger !== undefined && typeof logger?.warn !== 'function') {
      throw new InvalidOptionsError('logger', 'must have a warn(message, context) method');
    }
    const codec = new Codec(encryption);
    const cache = new SessionCache(opts, { logger, maxInFlight }, codec);
    try {
      await Promise.all([...cache.#cells.values()].map((c) => waitReady(c.client, opts.connectTimeoutMs)));
      await Promise.all([...cache.#cells.values()].map((c) => c.near.start()));
      cache.#startReporter();
    } catch (err) {
      await cache.close().catch(() => undefined);
      throw err;
    }
    return cache;
  }

  /** Pushes metric deltas to the sidecar when `metrics.sidecar` is set; never blocks or fails a call. */
  #startReporter(): void {
    const m = this.#opts.metrics;
    if (!m.sidecar) return;
    let lastLog = 0;
    this.#reporter = new MetricsReporter({
      url: m.sidecar,
      stats: this.#stats,
      ...(m.worker !== undefined ? { worker: m.worker } : {}),
      ...(m.intervalMs !== undefined ? { intervalMs: m.intervalMs } : {}),
      onError: (err) => {
        // The reporter retries on every interval while the sidecar is down: log once a minute.
        if (Date.now() - lastLog < 60_000) return;
        lastLog = Date.now();
        this.#logger.warn('sessioncache: metrics report to the sidecar failed; retrying with backoff', { reason: err.message });
      },
    });
    this.#reporter.start();
  }

  /** The sidecar reporter's own counters (sent, failed, dropped, pending), when it runs. */
  reporterStats(): ReporterStats | undefined {
    return this.#reporter?.stats();
  }

  /** The resolved options (frozen). */
  get options(): Readonly<ResolvedOptions> {
    return this.#opts;
  }

  /** The in-process metrics (for the prom-client binding and the sidecar reporter). */
  get metrics(): SdkStats {
    return this.#stats;
  }

  /** A keyed fingerprint of an id, safe to log: it correlates log lines without revealing the id. */
  fingerprint(id: string): string {
    return idFingerprint(String(id), this.#logKey);
  }

  // --- plumbing -----------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new CacheClosedError();
  }

  /** Times an operation that goes to Redis and counts its result and errors. */
  async #op<T>(op: Operation, fn: () => Promise<T>): Promise<T> {
    const t0 = this.#inst.start();
    try {
      this.#checkOpen();
      const out = await fn();
      this.#inst.done(op, 'redis', 'ok', t0);
      return out;
    } catch (err) {
      this.#inst.done(op, 'redis', resultOf(err), t0);
      if (err instanceof SessionCacheError || (err as { code?: string }).code) this.#inst.error((err as { code: string }).code);
      throw err;
    }
  }

  #parseForWrite(id: unknown): ParsedSessionId {
    const why = checkSessionId(id);
    if (why) throw new InvalidSessionIdError(why);
    return parseSessionId(id)!;
  }

  #loaded(l: LoadedSession): Session {
    return freezeSession(l.session);
  }

  /** The cell that owns a tag now. */
  #cellOf(tag: string): Cell {
    return this.#router ? this.#cells.get(this.#router.ownerOf(tag))! : this.#primary;
  }

  /** The cell that owned a tag before the ring changed, when it is another one. */
  #previousCellOf(tag: string): Cell | undefined {
    const prev = this.#router?.previousOwnerOf(tag);
    return prev === undefined ? undefined : this.#cells.get(prev);
  }

  /**
   * Moves one session from the cell that owned it to the one that owns it now (read-through
   * migration). The old copy is taken atomically (deleted and tombstoned), so the session is
   * never live on two cells. Resolves true when a session was moved.
   */
  async #moveSession(tag: string, hash: string, from: Cell, to: Cell): Promise<boolean> {
    const taken = await from.store.takeRaw(tag, hash);
    if (!taken) return false;
    from.near.invalidateKey(from.store.keys.session(tag, hash));
    const restored = await to.store.restoreRaw(tag, hash, taken);
    to.near.invalidateKey(to.store.keys.session(tag, hash));
    return restored;
  }

  /** Before a write during a ring change: bring the session to its owner if it is still on its previous cell. */
  async #migrateForWrite(p: ParsedSessionId, owner: Cell): Promise<void> {
    const prev = this.#previousCellOf(p.tag);
    if (prev) await this.#moveSession(p.tag, p.hash, prev, owner);
  }

  /** The near cache's read for `owner`, falling back to the previous owner during a ring change. */
  #loaderFor(owner: Cell, tag: string): (p: ParsedSessionId) => Promise<LoadedSession | null> {
    const prev = this.#previousCellOf(tag);
    if (!prev) return owner.load;
    return async (p) => {
      const here = await owner.load(p);
      if (here) return here;
      await this.#moveSession(p.tag, p.hash, prev, owner);
      return owner.load(p);
    };
  }

  /** A session read from Redis (its TTL refreshed when due if `refresh`); one that does not decode reads as null. */
  #readStored(store: SessionStore, p: ParsedSessionId, refresh: boolean): Promise<LoadedSession | null> {
    return store.get(p, refresh).catch((err: unknown) => {
      if ((err as SessionCacheError).code === 'SC_ERR_DECODE') return this.#decodeFailed(p, err as Error);
      throw err;
    });
  }

  /** A stored session that does not decode reads as "no session": counted and logged (never the id). */
  #decodeFailed(p: ParsedSessionId, err: Error): null {
    this.#inst.error('SC_ERR_DECODE');
    this.#logger.warn('sessioncache: stored session could not be decoded; treating it as missing', {
      session: this.fingerprint(p.id),
      reason: err.message,
    });
    return null;
  }

  // --- public API ---------------------------------------------------------------------------

  /** Creates a session with a new id. Binding a user puts it in that user's index and limit. */
  async create(input: CreateSessionInput = {}): Promise<Session> {
    return this.#op('create', async () => {
      if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('create() takes an object');
      const userId = input.userId === undefined ? undefined : checkUserId(input.userId);
      const idle = checkTimeout('idleTimeoutSec', input.idleTimeoutSec, 365 * 86400) ?? this.#opts.idleTimeoutSec;
      const abs = checkTimeout('absoluteTimeoutSec', input.absoluteTimeoutSec, 10 * 365 * 86400) ?? Math.max(this.#opts.absoluteTimeoutSec, idle);
      if (abs < idle) throw new InvalidArgumentError(`absoluteTimeoutSec (${abs}) must not be shorter than idleTimeoutSec (${idle})`);
      const tag = userId === undefined ? randomTag() : userTag(this.#opts.userTagSecret, userId);
      const target = generateSessionId(tag);
      const data = input.data ?? {};
      const cell = this.#cellOf(tag);
      const w = cell.near.beginWrite(cell.store.keys.session(tag, target.hash));
      try {
        const { session, evicted } = await cell.store.create(target, { ...(userId !== undefined ? { userId } : {}), data, idleTimeoutSec: idle, absoluteTimeoutSec: abs });
        for (const handle of evicted) cell.near.invalidateKey(cell.store.keys.session(tag, handle));
        if (session.id === target.id) cell.near.noteOwnWrite(w);
        return freezeSession(session);
      } finally {
        cell.near.finishWrite(w);
      }
    });
  }

  /**
   * The session, or null when it is missing, expired, destroyed, corrupt or the id is malformed
   * (a malformed id never reaches Redis). Hot sessions come from the near cache.
   */
  get(id: string): Promise<Session | null> {
    // Not async: a near-cache hit then costs one resolved promise, not two async frames; and it
    // is looked up by the raw id before any parsing (only validated ids are ever cached).
    if (!this.#router && typeof id === 'string' && id.length === SESSION_ID_LENGTH && !this.#closed) {
      const hit = this.#primary.near.tryHit(id, this.#inst);
      if (hit !== undefined) return Promise.resolve(hit);
    }
    const p = parseSessionId(id);
    if (!p) {
      const t0 = this.#inst.start();
      this.#inst.done('get', 'near', 'not_found', t0);
      return Promise.resolve(null);
    }
    if (this.#closed) return Promise.reject(new CacheClosedError());
    const cell = this.#cellOf(p.tag);
    return cell.near.get(p, this.#loaderFor(cell, p.tag), this.#inst);
  }

  /**
   * Sessions for many ids, in input order (null for missing, expired or malformed ones). Hot
   * ones come from the near cache; the rest are read with one pipeline per master, through the
   * same single-flight and invalidation checks as `get`.
   */
  async getMany(ids: readonly string[]): Promise<Array<Session | null>> {
    return this.#op('get_many', async () => {
      if (!Array.isArray(ids)) throw new InvalidArgumentError('getMany() takes an array of ids');
      if (ids.length > 10_000) throw new InvalidArgumentError('getMany() takes at most 10000 ids');
      type Queued = { p: ParsedSessionId; resolve: (v: LoadedSession | null) => void; reject: (e: unknown) => void };
      const batches = new Map<Cell, Queued[]>();
      const pending = ids.map((id) => {
        const p = parseSessionId(id);
        if (!p) return Promise.resolve(null);
        const cell = this.#cellOf(p.tag);
        const prev = this.#previousCellOf(p.tag);
        const load = (q: ParsedSessionId): Promise<LoadedSession | null> =>
          new Promise<LoadedSession | null>((resolve, reject) => {
            let b = batches.get(cell);
            if (!b) batches.set(cell, (b = []));
            b.push({ p: q, resolve, reject });
          }).then(async (here) => {
            if (here || !prev) return here;
            await this.#moveSession(q.tag, q.hash, prev, cell);
            return cell.load(q);
          });
        return cell.near.get(p, load, this.#inst);
      });
      // Every miss above queued its read synchronously: send them, one pipeline per master.
      await Promise.all(
        [...batches].map(async ([cell, batch]) => {
          const results = await cell.store.getBatch(batch.map((b) => b.p)).catch((err: unknown) => batch.map(() => err as Error));
          batch.forEach((b, i) => {
            const r = results[i];
            if (r instanceof Error) {
              if ((r as SessionCacheError).code === 'SC_ERR_DECODE') b.resolve(this.#decodeFailed(b.p, r));
              else b.reject(r);
            } else b.resolve(r ?? null);
          });
        }),
      );
      return Promise.all(pending);
    });
  }

  /**
   * Writes only the given attributes (undefined removes one) and bumps the version. With
   * `expectedVersion`, writes only if the session is still at that version
   * (VersionConflictError otherwise, nothing written). Throws SessionNotFoundError when the
   * session is gone, InvalidSessionIdError for a malformed id (no Redis call).
   */
  async update(id: string, patch: Record<string, unknown>, options: UpdateOptions = {}): Promise<Session> {
    return this.#op('update', async () => {
      const p = this.#parseForWrite(id);
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new InvalidArgumentError('update() takes a patch object');
      const ev = options?.expectedVersion;
      if (ev !== undefined && (!Number.isInteger(ev) || ev < 0)) throw new InvalidArgumentError('expectedVersion must be a non-negative integer');
      const cell = this.#cellOf(p.tag);
      const w = cell.near.beginWrite(cell.store.keys.session(p.tag, p.hash));
      try {
        await this.#migrateForWrite(p, cell);
        const loaded = await cell.store.update(p, patch, ev).catch((err: unknown) => {
          // Another attribute does not decode: the session reads as missing, and the store has
          // put back what the update wrote.
          if ((err as SessionCacheError).code !== 'SC_ERR_DECODE') throw err;
          this.#decodeFailed(p, err as Error);
          throw new SessionNotFoundError();
        });
        cell.near.noteOwnWrite(w);
        return this.#loaded(loaded);
      } finally {
        cell.near.finishWrite(w);
      }
    });
  }

  /**
   * Writes a whole session under a given id (creating it, or replacing its attributes), unless
   * the id was destroyed or regenerated: its tombstone makes the write throw SessionNotFoundError,
   * so a save racing a logout can never revive the session. This is what framework stores'
   * `set` needs; applications normally use `create` and `update`.
   */
  async put(
    id: string,
    input: { userId?: string; data: Record<string, unknown>; idleTimeoutSec?: number; absoluteTimeoutSec?: number; expectedVersion?: number },
  ): Promise<{ version: number; created: boolean }> {
    return this.#op('put', async () => {
      const p = this.#parseForWrite(id);
      if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('put() takes { data, ... }');
      const userId = input.userId === undefined ? undefined : checkUserId(input.userId);
      const idle = checkTimeout('idleTimeoutSec', input.idleTimeoutSec, 365 * 86400) ?? this.#opts.idleTimeoutSec;
      const abs = checkTimeout('absoluteTimeoutSec', input.absoluteTimeoutSec, 10 * 365 * 86400) ?? Math.max(this.#opts.absoluteTimeoutSec, idle);
      const ev = input.expectedVersion;
      if (ev !== undefined && (!Number.isInteger(ev) || ev < 0)) throw new InvalidArgumentError('expectedVersion must be a non-negative integer');
      const cell = this.#cellOf(p.tag);
      const w = cell.near.beginWrite(cell.store.keys.session(p.tag, p.hash));
      try {
        await this.#migrateForWrite(p, cell);
        const written = await cell.store.upsert(p, { ...(userId !== undefined ? { userId } : {}), data: input.data ?? {}, idleTimeoutSec: idle, absoluteTimeoutSec: abs, ...(ev !== undefined ? { expectedVersion: ev } : {}) });
        if (written === 'tombstoned') throw new SessionNotFoundError();
        cell.near.noteOwnWrite(w);
        return { version: written.version, created: written.created };
      } finally {
        cell.near.finishWrite(w);
      }
    });
  }

  /**
   * Extends the idle timeout. Cheap: it refreshes the Redis TTL only once `touchFraction` of the
   * idle timeout has passed (`{ force: true }` always refreshes), so touching on every request
   * does not invalidate other instances on every request. Resolves false when the session is gone.
   */
  async touch(id: string, options: { force?: boolean } = {}): Promise<boolean> {
    const parsed = parseSessionId(id);
    const force = options?.force === true;
    if (parsed && !this.#closed && !force) {
      // Answered from memory (nothing due): a near-tier operation, no Redis call.
      const t0 = this.#inst.start();
      const local = this.#cellOf(parsed.tag).near.touchLocal(parsed);
      if (local !== undefined) {
        this.#inst.done('touch', 'near', 'ok', t0);
        return local;
      }
    }
    return this.#op('touch', async () => {
      const p = parsed ?? this.#parseForWrite(id); // throws InvalidSessionIdError for a malformed id
      const cell = this.#cellOf(p.tag);
      await this.#migrateForWrite(p, cell);
      const res = await cell.store.touch(p, force);
      return res !== null;
    });
  }

  /**
   * Deletes the session everywhere and leaves a tombstone so that a save racing the logout can
   * never bring it back. Resolves true if a live session was deleted.
   */
  async destroy(id: string): Promise<boolean> {
    return this.#op('destroy', async () => {
      const p = this.#parseForWrite(id);
      const cell = this.#cellOf(p.tag);
      const prev = this.#previousCellOf(p.tag);
      const w = cell.near.beginWrite(cell.store.keys.session(p.tag, p.hash));
      try {
        // During a ring change the session may still be on its previous cell: end it there too.
        const [existed, existedBefore] = await Promise.all([
          cell.store.destroy(p),
          prev ? prev.store.destroy(p) : false,
        ]);
        if (existed) cell.near.noteOwnWrite(w); // deleting nothing invalidates nothing
        return existed || existedBefore;
      } finally {
        cell.near.finishWrite(w);
      }
    });
  }

  /**
   * Issues a new id for the session (same data, same user unless `userId` binds one) and kills
   * the old id at once (tombstoned). Call it on login and privilege changes (session fixation
   * defence). Works across slots: when the user changes, the new id lives in the user's slot.
   */
  async regenerate(id: string, options: RegenerateOptions = {}): Promise<Session> {
    return this.#op('regenerate', async () => {
      const p = this.#parseForWrite(id);
      const newUser = options?.userId === undefined ? undefined : checkUserId(options.userId);
      const cell = this.#cellOf(p.tag);
      const w = cell.near.beginWrite(cell.store.keys.session(p.tag, p.hash));
      try {
        await this.#migrateForWrite(p, cell);
        // A session that does not decode reads as missing: refuse it before writing anything
        // (the atomic scripts below cannot decode, and would move or kill it regardless).
        if (!(await this.#readStored(cell.store, p, false))) throw new SessionNotFoundError();
        const sameTag = newUser === undefined || p.tag === userTag(this.#opts.userTagSecret, newUser);
        // Same user (or none), values in clear: keep the tag, so one atomic script moves the
        // session in its slot. Encrypted values are bound to the id and need the rewrite below.
        if (sameTag && !cell.store.encrypts) {
          for (let attempt = 0; attempt < 3; attempt++) {
            const next = generateSessionId(p.tag);
            const moved = await cell.store.move(p, next);
            if (moved === null) throw new SessionNotFoundError();
            if (moved !== 'exists') {
              cell.near.noteOwnWrite(w);
              return this.#loaded(moved);
            }
          }
          throw new SessionNotFoundError();
        }
        // New user, or encrypted values: kill the old id first (fail safe: a failure afterwards
        // logs the user out rather than leaving a fixable session alive), then create the copy
        // under the new id (for a new user in the user's slot and cell; encrypted values are
        // re-encrypted for the new id, with the active key).
        const taken = await cell.store.take(p);
        if (!taken) throw new SessionNotFoundError();
        cell.near.noteOwnWrite(w);
        const userId = newUser ?? taken.session.userId;
        const userChanged = taken.session.userId !== userId;
        const next = generateSessionId(sameTag ? p.tag : userTag(this.#opts.userTagSecret, newUser!));
        const target = this.#cellOf(next.tag);
        const { session, evicted } = await target.store.create(
          next,
          {
            ...(userId !== undefined ? { userId } : {}),
            data: taken.session.data as Record<string, unknown>,
            idleTimeoutSec: taken.idleTimeoutSec,
            absoluteTimeoutSec: Math.max(this.#opts.absoluteTimeoutSec, taken.idleTimeoutSec),
          },
          userChanged ? undefined : { createdAt: taken.session.createdAt, absoluteExpiresAt: taken.session.absoluteExpiresAt, version: taken.session.version + 1 },
        );
        for (const handle of evicted) target.near.invalidateKey(target.store.keys.session(next.tag, handle));
        return freezeSession(session);
      } finally {
        cell.near.finishWrite(w);
      }
    });
  }

  /**
   * The user's live sessions (expired or destroyed ones are pruned from the index, never
   * returned), oldest first. Listing never reveals ids: each has an opaque `handle`.
   */
  async listByUser(userId: string, options: { current?: string; withData?: boolean } = {}): Promise<SessionInfo[]> {
    return this.#op('list_by_user', async () => {
      const uid = checkUserId(userId);
      const current = options?.current !== undefined ? parseSessionId(options.current)?.hash : undefined;
      const tag = userTag(this.#opts.userTagSecret, uid);
      // During a ring change some of the user's sessions may still be on the previous cell.
      const cells = [this.#cellOf(tag), this.#previousCellOf(tag)].filter((c): c is Cell => c !== undefined);
      const lists = await Promise.all(cells.map((c) => c.store.listByUser(tag, uid, options?.withData === true, current)));
      return lists
        .flat()
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((s) => deepFreeze(s));
    });
  }

  /**
   * Destroys every session of the user except `except` (an id, e.g. the current one), atomically,
   * tombstoning each. Resolves with how many live sessions were destroyed.
   */
  async destroyAllForUser(userId: string, options: { except?: string } = {}): Promise<number> {
    return this.#op('destroy_all_for_user', async () => {
      const uid = checkUserId(userId);
      const tag = userTag(this.#opts.userTagSecret, uid);
      let exceptHash: string | undefined;
      if (options?.except !== undefined) {
        const p = this.#parseForWrite(options.except);
        exceptHash = p.hash;
      }
      const cells = [this.#cellOf(tag), this.#previousCellOf(tag)].filter((c): c is Cell => c !== undefined);
      let count = 0;
      for (const cell of cells) {
        const destroyed = await cell.store.destroyAllForUser(tag, uid, exceptHash);
        for (const handle of destroyed) {
          const key = cell.store.keys.session(tag, handle);
          cell.near.invalidateKey(key);
        }
        count += destroyed.length;
      }
      return count;
    });
  }

  /** Destroys one session of a user by the `handle` from {@link listByUser}. */
  async destroyByHandle(userId: string, handle: string): Promise<boolean> {
    return this.#op('destroy', async () => {
      const uid = checkUserId(userId);
      if (typeof handle !== 'string' || !/^[A-Za-z0-9_-]{32}$/.test(handle)) throw new InvalidArgumentError('handle must come from listByUser()');
      const tag = userTag(this.#opts.userTagSecret, uid);
      let existed = false;
      for (const cell of [this.#cellOf(tag), this.#previousCellOf(tag)]) {
        if (!cell) continue;
        const w = cell.near.beginWrite(cell.store.keys.session(tag, handle));
        try {
          const here = await cell.store.destroyByHandle(tag, handle);
          if (here) cell.near.noteOwnWrite(w);
          existed ||= here;
        } finally {
          cell.near.finishWrite(w);
        }
      }
      return existed;
    });
  }

  /** Counters, hit rate, latency summaries and near-cache state. */
  stats(): CacheStats {
    const snap = this.#stats.snapshot();
    const operations: Record<string, Record<string, number>> = {};
    const errors: Record<string, number> = {};
    for (const c of snap.counters) {
      if (c.name === 'operations_total' && c.value > 0) {
        const op = c.labels.op!;
        (operations[op] ??= {})[c.labels.result!] = c.value;
      } else if (c.name === 'errors_total' && c.value > 0) {
        errors[c.labels.code!] = c.value;
      }
    }
    return {
      operations,
      errors,
      decodeFailures: counterTotal(snap, 'errors_total', { code: 'SC_ERR_DECODE' }),
      latency: {
        near: summarizeLatency(selectHistograms(snap, 'operation_duration_seconds', { tier: 'near' })),
        redis: summarizeLatency(selectHistograms(snap, 'operation_duration_seconds', { tier: 'redis' })),
      },
      nearCache: this.#nearStats(snap),
      inFlight: this.#gate.held,
    };
  }

  /** Near-cache stats of every cell, added up. */
  #nearStats(snap: ReturnType<SdkStats['snapshot']>): NearCacheStats {
    const cells = [...this.#cells.values()];
    const first = cells[0]!.near.stats(snap); // counters are shared by all cells
    const modes = new Set(cells.map((c) => c.near.mode));
    return {
      ...first,
      mode: modes.size === 1 ? first.mode : modes.has('ttl-only') ? 'ttl-only' : first.mode,
      entries: cells.reduce((n, c) => n + c.near.size, 0),
      bytes: cells.reduce((n, c) => n + c.near.calculatedSize, 0),
      trackedNodes: cells.reduce(
        (t, c) => {
          const x = c.near.stats(snap).trackedNodes;
          return { armed: t.armed + x.armed, total: t.total + x.total };
        },
        { armed: 0, total: 0 },
      ),
    };
  }

  /** Names of the cells, and the ring change in progress (cells added and draining). */
  cells(): { cells: string[]; added: string[]; draining: string[] } {
    return {
      cells: this.#router ? [...this.#router.current.cells] : ['default'],
      added: this.#router ? [...this.#router.addedCells] : [],
      draining: this.#router ? [...this.#router.drainingCells] : [],
    };
  }

  /**
   * Moves every session that is not on the cell owning it under the current ring (after cells
   * were added, removed or reweighted with `previousCells` declared). Sessions are moved one by
   * one with the same atomic take-and-restore as the read-through migration, so reads and writes
   * keep working during the rebalance. `onProgress` is called after every scanned batch.
   * Resolves with the totals; once it has run on one instance, `previousCells` can be dropped.
   */
  async rebalance(options: { batchSize?: number; onProgress?: (p: { cell: string; scanned: number; moved: number }) => void } = {}): Promise<{ scanned: number; moved: number }> {
    this.#checkOpen();
    const router = this.#router;
    if (!router?.previous) return { scanned: 0, moved: 0 };
    let scanned = 0;
    let moved = 0;
    for (const name of router.previous.cells) {
      const from = this.#cells.get(name)!;
      const prefix = from.store.keys.sessionPrefix;
      for await (const { keys } of from.store.scanKeys(options.batchSize ?? 500)) {
        for (const key of keys) {
          const { tag, hash } = parseSessionKey(key, prefix)!; // scanKeys only yields session keys
          scanned++;
          const owner = this.#cells.get(router.ownerOf(tag))!;
          if (owner !== from && (await this.#moveSession(tag, hash, from, owner))) moved++;
        }
        options.onProgress?.({ cell: name, scanned, moved });
      }
    }
    return { scanned, moved };
  }

  /** Stops the near cache's connections and closes the Redis clients. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reporter?.close().catch(() => undefined);
    await Promise.all(
      [...this.#cells.values()].map(async (c) => {
        await c.near.close();
        // The store's dedicated durable-write connections.
        await c.store.close().catch(() => undefined);
        try {
          await c.client.quit();
        } catch {
          c.client.disconnect();
        }
      }),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal the Redis client of the first cell, for tests and the adapters' admin operations. */
  get redisClient(): RedisClient {
    return this.#primary.client;
  }

  /** @internal the near cache of the first cell, for tests and diagnostics. */
  get nearCache(): NearCache {
    return this.#primary.near;
  }

  /** @internal the store of the first cell, for the adapters. */
  get store(): SessionStore {
    return this.#primary.store;
  }

  /** @internal the store of the cell owning a session (adapters with cells). */
  storeFor(tag: string): SessionStore {
    return this.#cellOf(tag).store;
  }
}
