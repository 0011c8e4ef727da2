import { InvalidArgumentError, InvalidOptionsError, InvalidSessionIdError } from '../errors';
import { deepFreeze } from '../freeze';
import { generateSessionId, randomTag, userTag } from '../ids';
import type { SessionCache } from '../session-cache';
import type { SessionInfo } from '../session';
import { countSessions, destroyAllSessions, parseHandle, scanSessions, sessionHandles } from './cluster-scan';
import { deepCopy } from './deep-values';
import { changedAttributes, COOKIE_ATTRIBUTE, sessionAttributes } from './session-changes';
import { storeIdOf } from './store-ids';

/**
 * What the end-of-request save compares against: the session as this request loaded it (or
 * last saved it). It lives on the framework's session object under {@link SNAPSHOT}, so each
 * request has its own, even when several requests of one session run at once on one instance.
 */
export interface Snapshot {
  /** The framework's session id (the cookie value). */
  readonly sid: string;
  /** The sessioncache id it is stored under (itself, or derived from a framework id). */
  readonly storeId: string;
  readonly version: number;
  /** The user the session is bound to (its id is in the user's slot and index). */
  readonly userId: string | undefined;
  /** Attributes as stored (frozen): the reference for change detection. */
  readonly data: Readonly<Record<string, unknown>>;
  /** Written by this request (created or saved): its idle timeout was just refreshed. */
  readonly written?: boolean;
}

/** Key of the {@link Snapshot} on framework session objects (non-enumerable, so never stored). */
export const SNAPSHOT: unique symbol = Symbol('sessioncache.snapshot');

/** Attaches (or replaces) the snapshot of a framework session object. */
export function attachSnapshot(target: object, snapshot: Snapshot): void {
  Object.defineProperty(target, SNAPSHOT, { value: snapshot, enumerable: false, configurable: true, writable: true });
}

/** The snapshot of a framework session object, if it has one. */
export function snapshotOf(target: unknown): Snapshot | undefined {
  if (typeof target !== 'object' || target === null) return undefined;
  return (target as { [SNAPSHOT]?: Snapshot })[SNAPSHOT];
}

/** Options shared by both stores. */
export interface SessionCacheStoreOptions {
  /** A connected SessionCache; the store does not close it. */
  cache: SessionCache;
  /**
   * Idle timeout (seconds) of the sessions the store creates. By default it follows the
   * session cookie's `maxAge` (rounded up to a second, at most the cache's
   * `absoluteTimeoutSec`), so the server forgets a session when the browser would; a cookie
   * without `maxAge` gets the cache's `idleTimeoutSec`.
   * @default the cookie's maxAge, else the cache's idleTimeoutSec
   */
  idleTimeoutSec?: number;
}

/** Most pending user bindings kept for new ids that were never saved (aborted requests). */
const MAX_PENDING_BINDS = 10_000;

/** One session of a user, as the "my sessions" helpers list it. */
export type ListedSession = Omit<SessionInfo, 'data' | 'userId'>;

/**
 * The framework-independent half of both stores: id mapping, loading with a snapshot,
 * change-only saves, user binding and the store-wide scans. The Express and Fastify classes
 * only adapt it to their framework's callbacks and session objects.
 */
export class StoreCore {
  readonly cache: SessionCache;
  readonly #idleTimeoutSec: number | undefined;
  /** New ids that must be stored bound to a user (a bound session was regenerated). */
  readonly #binds = new Map<string, string>();

  constructor(options: SessionCacheStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('options', 'must be an object with a connected `cache`');
    const cache = options.cache as SessionCache | undefined;
    if (!cache || typeof cache.get !== 'function' || typeof cache.update !== 'function' || !cache.store) {
      throw new InvalidOptionsError('cache', 'must be a connected SessionCache (await SessionCache.connect(...))');
    }
    const idle = options.idleTimeoutSec;
    const abs = cache.options.absoluteTimeoutSec;
    if (idle !== undefined && (!Number.isInteger(idle) || idle < 1 || idle > abs)) {
      throw new InvalidOptionsError('idleTimeoutSec', `must be an integer from 1 to the cache's absoluteTimeoutSec (${abs}), got ${String(idle)}`);
    }
    this.cache = cache;
    this.#idleTimeoutSec = idle;
  }

  /** The idle timeout to store a new session with, from its cookie (see the option). */
  idleTimeoutFor(cookie: unknown): number {
    if (this.#idleTimeoutSec !== undefined) return this.#idleTimeoutSec;
    const maxAge = (cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge;
    const { absoluteTimeoutSec, idleTimeoutSec } = this.cache.options;
    if (typeof maxAge === 'number' && Number.isFinite(maxAge) && maxAge > 0) {
      return Math.min(Math.max(1, Math.ceil(maxAge / 1000)), absoluteTimeoutSec);
    }
    return idleTimeoutSec;
  }

  /**
   * A new sessioncache id: in the user's slot when `userId` is given (so it joins the user's
   * index), with a random routing tag otherwise.
   */
  generateId(userId?: string): string {
    return generateSessionId(userId === undefined ? randomTag() : userTag(this.cache.options.userTagSecret, userId)).id;
  }

  /** Remembers that the new session `sid` must be stored bound to `userId` on its first save. */
  bindNext(sid: string, userId: string): void {
    if (this.#binds.size >= MAX_PENDING_BINDS) this.#binds.delete(this.#binds.keys().next().value!);
    this.#binds.set(sid, userId);
  }

  /** The user a framework session is bound to: from its snapshot, or a binding pending its first save. */
  boundUser(sid: string | undefined, snapshot: Snapshot | undefined): string | undefined {
    if (sid === undefined) return undefined;
    if (snapshot?.sid === sid) return snapshot.userId;
    return this.#binds.get(sid);
  }

  /**
   * Reads a session for the framework: a mutable deep copy of its attributes and the snapshot
   * to save against. Null for a missing, expired, destroyed or corrupt session, and for an id
   * the store does not accept (never any I/O then).
   */
  async load(sid: unknown): Promise<{ data: Record<string, unknown>; snapshot: Snapshot } | null> {
    const storeId = storeIdOf(sid);
    if (storeId === undefined) return null;
    const s = await this.cache.get(storeId);
    if (!s) return null;
    return {
      data: deepCopy(s.data) as Record<string, unknown>,
      snapshot: { sid: sid as string, storeId, version: s.version, userId: s.userId, data: s.data },
    };
  }

  /**
   * True when saving `session` now would write something: attributes changed since the
   * snapshot, or a new session that holds attributes (or a pending user binding). A new
   * session holding only its cookie is "uninitialized" and counts only with `saveUninitialized`.
   */
  needsSave(sid: string, session: object, saveUninitialized: boolean): boolean {
    const snapshot = snapshotOf(session);
    const attrs = sessionAttributes(session);
    if (snapshot?.sid === sid) return changedAttributes(snapshot.data, attrs, this.cache.options.touchFraction) !== undefined;
    if (this.#binds.has(sid) || saveUninitialized) return true;
    return Object.keys(attrs).some((k) => k !== COOKIE_ATTRIBUTE);
  }

  /**
   * Saves a framework session and returns its new snapshot.
   *
   * - Loaded in this request (it has a snapshot): only the changed attributes are written
   *   (`update`, one atomic script); nothing but a cheap `touch` when nothing changed. If the
   *   session was destroyed meanwhile (logout elsewhere), SessionNotFoundError: the changes are
   *   dropped rather than bringing it back.
   * - New (no snapshot): the whole session is written under its id, unless that id was
   *   destroyed (its tombstone blocks it: SessionNotFoundError again).
   */
  async save(sid: string, session: object): Promise<Snapshot> {
    const storeId = storeIdOf(sid);
    if (storeId === undefined) {
      throw new InvalidSessionIdError(
        "the framework issued a session id this store does not accept (use the store's id generator, or the framework's default one)",
      );
    }
    const attrs = sessionAttributes(session);
    const snapshot = snapshotOf(session);
    if (snapshot?.sid === sid) {
      const patch = changedAttributes(snapshot.data, attrs, this.cache.options.touchFraction);
      if (!patch) {
        // Refresh the idle timeout, unless this request's own write just did.
        if (!snapshot.written) await this.cache.touch(storeId);
        return snapshot;
      }
      const s = await this.cache.update(storeId, patch);
      // The reference for the next save is what *this request* wrote over what it loaded: the
      // reply also holds other requests' concurrent changes, which this request's session
      // object does not, and comparing against them would write the stale values back.
      const next: Record<string, unknown> = { ...snapshot.data };
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete next[k];
        else next[k] = deepCopy(v);
      }
      return { ...snapshot, version: s.version, data: deepFreeze(next), written: true };
    }
    const userId = this.#binds.get(sid);
    // put() refuses a tombstoned id (SessionNotFoundError): a save racing a logout cannot revive it.
    const written = await this.cache.put(storeId, {
      ...(userId !== undefined ? { userId } : {}),
      data: attrs,
      idleTimeoutSec: this.idleTimeoutFor(attrs[COOKIE_ATTRIBUTE]),
      absoluteTimeoutSec: Math.max(this.cache.options.absoluteTimeoutSec, this.idleTimeoutFor(attrs[COOKIE_ATTRIBUTE])),
    });
    this.#binds.delete(sid);
    return { sid, storeId, version: written.version, userId, data: deepFreeze(deepCopy(attrs)), written: true };
  }

  /** Extends the idle timeout (cheap: usually answered from the near cache). */
  async touch(sid: unknown): Promise<void> {
    const storeId = storeIdOf(sid);
    if (storeId !== undefined) await this.cache.touch(storeId);
  }

  /** Destroys a session and leaves its tombstone; false when there was no live session. */
  async destroy(sid: unknown): Promise<boolean> {
    const storeId = storeIdOf(sid);
    if (storeId === undefined) return false;
    this.#binds.delete(sid as string);
    return this.cache.destroy(storeId);
  }

  /**
   * Creates a session bound to `userId` (in the user's slot, index and limit) holding `data`,
   * for the login helpers. Returns its snapshot (whose `sid` is the new id) and a mutable copy
   * of its attributes.
   */
  async createBound(userId: string, data: Record<string, unknown>): Promise<{ snapshot: Snapshot; data: Record<string, unknown> }> {
    const s = await this.cache.create({ userId, data, idleTimeoutSec: this.idleTimeoutFor(data[COOKIE_ATTRIBUTE]) });
    return {
      snapshot: { sid: s.id, storeId: s.id, version: s.version, userId: s.userId, data: s.data, written: true },
      data: deepCopy(s.data) as Record<string, unknown>,
    };
  }

  /**
   * Ends the session a login replaces. Only a session that is in the store needs it (and its
   * tombstone): one loaded or saved by this request has a snapshot; a session generated by
   * this request and never saved exists nowhere, and its id was never handed out.
   */
  async destroyReplaced(sid: string | undefined, session: unknown): Promise<void> {
    if (sid !== undefined && snapshotOf(session)?.sid === sid) await this.destroy(sid);
  }

  /** The user's live sessions, oldest first, `current` marking the one with framework id `currentSid`. */
  async listForUser(userId: string, currentSid: string | undefined): Promise<ListedSession[]> {
    const current = storeIdOf(currentSid);
    const list = await this.cache.listByUser(userId, current !== undefined ? { current } : {});
    return list.map((s) => ({
      handle: s.handle,
      current: s.current,
      version: s.version,
      createdAt: s.createdAt,
      lastAccessAt: s.lastAccessAt,
      idleExpiresAt: s.idleExpiresAt,
      absoluteExpiresAt: s.absoluteExpiresAt,
    }));
  }

  /** Destroys every session of the user but the one with framework id `exceptSid`. */
  async destroyAllForUser(userId: string, exceptSid: string | undefined): Promise<number> {
    const except = storeIdOf(exceptSid);
    return this.cache.destroyAllForUser(userId, except !== undefined ? { except } : {});
  }

  /** Every session's attributes by handle (`<tag>:<hash>`, not an id): a per-master SCAN. */
  async all(): Promise<Record<string, Record<string, unknown>>> {
    const out: Record<string, Record<string, unknown>> = {};
    for await (const { handle, session } of scanSessions(this.cache.redisClient, this.cache.store)) out[handle] = session.data as Record<string, unknown>;
    return out;
  }

  /** Number of sessions in the store. */
  length(): Promise<number> {
    return countSessions(this.cache.store);
  }

  /** Handles of every session (not ids: ids are never stored). */
  handles(): Promise<string[]> {
    return sessionHandles(this.cache.store);
  }

  /** Destroys every session (each tombstoned); resolves with how many were live. */
  clear(): Promise<number> {
    return destroyAllSessions(this.cache.store);
  }

  /** Destroys one session by a handle from {@link all} or {@link handles}. */
  async destroyHandle(handle: string): Promise<boolean> {
    const h = parseHandle(handle);
    if (!h) throw new InvalidArgumentError('handle must come from all() or ids()');
    return this.cache.store.destroyByHandle(h.tag, h.hash);
  }
}
