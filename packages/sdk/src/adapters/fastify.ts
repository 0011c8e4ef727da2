/**
 * `@sessioncache/sdk/fastify`: a @fastify/session store on sessioncache, a plugin that wires
 * it up, and the helpers @fastify/session lacks (bind a user at login, log out everywhere,
 * list my sessions).
 *
 * ```ts
 * const store = new SessionCacheStore({ cache });
 * await app.register(fastifyCookie);
 * await app.register(sessionCache, { store, secret, saveUninitialized: false,
 *                                    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 30 * 60_000 } });
 * ```
 */
import fastifySession from '@fastify/session';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, Session } from 'fastify';
import { InvalidArgumentError } from '../errors';
import { deliver, settle, type NodeCallback } from './callbacks';
import { withHttpStatus } from './http-status';
import { deepCopy } from './deep-values';
import { COOKIE_ATTRIBUTE, freshCookie } from './session-changes';
import { attachSnapshot, snapshotOf, StoreCore, type ListedSession, type SessionCacheStoreOptions, type Snapshot } from './store-core';

export { httpStatusFor, errorBody } from './http-status';
export type { SessionCacheStoreOptions, ListedSession } from './store-core';

const cores = new WeakMap<SessionCacheStore, StoreCore>();

type FastifySessionOptions = Parameters<typeof fastifySession>[1];

/**
 * A @fastify/session store backed by a {@link SessionCache}. Register it through the
 * {@link sessionCache} plugin, which also installs the hook that lets `set` write only the
 * attributes that changed; used as a bare `store` option it still works but writes whole
 * sessions (with @fastify/session's default `rolling: true`, on every request).
 *
 * - `get` reads through the near cache and returns a deep copy the application may mutate.
 * - `set` writes only changed attributes (a cheap `touch` when nothing changed, which
 *   @fastify/session's `rolling` otherwise turns into a full write per request); it never
 *   brings back a session destroyed meanwhile.
 * - `destroy` leaves a tombstone. `idGenerator` issues sessioncache ids and keeps a session
 *   bound to a user in that user's slot across `regenerate()`.
 *
 * Errors passed to @fastify/session carry a `statusCode` (503 when Redis is unavailable),
 * which Fastify's error handler uses: a failed save answers an error and sets no cookie.
 */
export class SessionCacheStore {
  readonly #core: StoreCore;
  /** The snapshot of the session `get` is handing to @fastify/session right now. */
  #handoff: Snapshot | undefined;
  /** Sessions created by {@link login}, waiting for the `set` of their adoption. */
  readonly #adopting = new Map<string, Snapshot>();
  /** Ids {@link login} wants the next `idGenerator(request)` call to return. */
  readonly #adoptIds = new WeakMap<object, string>();

  constructor(options: SessionCacheStoreOptions) {
    this.#core = new StoreCore(options);
    cores.set(this, this.#core);
  }

  /** The SessionCache behind the store. */
  get cache(): StoreCore['cache'] {
    return this.#core.cache;
  }

  /**
   * @fastify/session `idGenerator`: sessioncache ids. Regenerating a session bound to a user
   * issues the new id in the user's slot (so it stays in the user's index), and {@link login}
   * uses it to adopt the session it created.
   */
  readonly idGenerator = (request?: FastifyRequest): string => {
    if (request) {
      const adopt = this.#adoptIds.get(request);
      if (adopt !== undefined) {
        this.#adoptIds.delete(request);
        return adopt;
      }
      const current = request.session as { sessionId?: string } | null | undefined;
      const userId = this.#core.boundUser(current?.sessionId, snapshotOf(current));
      if (userId !== undefined) {
        const id = this.#core.generateId(userId);
        this.#core.bindNext(id, userId);
        return id;
      }
    }
    return this.#core.generateId();
  };

  get(sessionId: string, callback: (err: unknown, result?: Session | null) => void): void {
    this.#core.load(sessionId).then(
      (loaded) => {
        if (!loaded) return deliver(() => callback(null, null));
        // @fastify/session builds request.session and runs the next onRequest hook (the
        // plugin's) synchronously inside this callback: that hook claims the snapshot.
        this.#handoff = loaded.snapshot;
        try {
          deliver(() => callback(null, loaded.data as unknown as Session));
        } finally {
          this.#handoff = undefined;
        }
      },
      (err: unknown) => deliver(() => callback(withHttpStatus(err))),
    );
  }

  /** For the plugin's onRequest hook: attaches the snapshot of the session just loaded. */
  claimLoaded(session: unknown): void {
    const h = this.#handoff;
    if (h && typeof session === 'object' && session !== null && (session as { sessionId?: unknown }).sessionId === h.sid && !snapshotOf(session)) {
      attachSnapshot(session, h);
    }
  }

  set(sessionId: string, session: Session, callback: (err?: unknown) => void): void {
    const adopted = this.#adopting.get(sessionId);
    if (adopted && !snapshotOf(session)) {
      this.#adopting.delete(sessionId);
      // The session login() created: regenerate() built it with only the kept attributes;
      // the ones login() wrote with it belong to it too.
      const target = session as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(adopted.data)) if (k !== COOKIE_ATTRIBUTE && !(k in target)) target[k] = deepCopy(v);
      attachSnapshot(session, adopted);
    }
    settle(this.#core.save(sessionId, session), callback as NodeCallback<Snapshot>, (snapshot) => attachSnapshot(session, snapshot));
  }

  destroy(sessionId: string, callback: (err?: unknown) => void): void {
    settle(this.#core.destroy(sessionId), callback as NodeCallback<boolean>);
  }

  /** Every session's attributes, keyed by handle (`<tag>:<hash>`, not an id): SCAN on every master. */
  all(): Promise<Record<string, Record<string, unknown>>> {
    return this.#core.all();
  }

  /** Number of sessions (SCAN on every master). */
  length(): Promise<number> {
    return this.#core.length();
  }

  /** Handles of every session. */
  ids(): Promise<string[]> {
    return this.#core.handles();
  }

  /** Destroys every session of this key prefix, each tombstoned; resolves with how many were live. */
  clear(): Promise<number> {
    return this.#core.clear();
  }

  /** Destroys one session by a handle from {@link all} or {@link ids}. */
  destroyHandle(handle: string): Promise<boolean> {
    return this.#core.destroyHandle(handle);
  }

  /** @internal for {@link login}: the next `idGenerator(request)` returns `id`, whose `set` adopts `snapshot`. */
  prepareAdoption(request: FastifyRequest, snapshot: Snapshot): () => boolean {
    this.#adoptIds.set(request, snapshot.sid);
    this.#adopting.set(snapshot.sid, snapshot);
    return () => {
      const unused = this.#adoptIds.delete(request);
      this.#adopting.delete(snapshot.sid);
      return !unused;
    };
  }
}

/** Options of {@link sessionCache}: @fastify/session's, with the store required. */
export type SessionCachePluginOptions = Omit<FastifySessionOptions, 'store' | 'idGenerator'> & {
  store: SessionCacheStore;
};

/**
 * Registers @fastify/session with a {@link SessionCacheStore} (and its `idGenerator`), plus
 * the onRequest hook that keeps each loaded session's snapshot, so saves write only what
 * changed. Register @fastify/cookie first. Encapsulation is skipped (like fastify-plugin):
 * `request.session` is available to the routes of the instance it is registered on.
 */
export const sessionCache: FastifyPluginAsync<SessionCachePluginOptions> = async function sessionCachePlugin(app: FastifyInstance, options) {
  const { store, ...rest } = options;
  if (!(store instanceof SessionCacheStore)) throw new InvalidArgumentError('sessionCache: options.store must be a SessionCacheStore');
  await app.register(fastifySession, { ...rest, store, idGenerator: store.idGenerator } as FastifySessionOptions);
  // Runs right after @fastify/session's own onRequest hook, within the store's get callback.
  app.addHook('onRequest', (request, _reply, done) => {
    store.claimLoaded(request.session);
    done();
  });
};
Object.assign(sessionCache, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@sessioncache/sdk/fastify',
  [Symbol.for('plugin-meta')]: { name: '@sessioncache/sdk/fastify', fastify: '5.x', dependencies: ['@fastify/cookie'] },
});

function coreOf(request: FastifyRequest): { core: StoreCore; store: SessionCacheStore } {
  const store = request.sessionStore as unknown;
  const core = store instanceof SessionCacheStore ? cores.get(store) : undefined;
  if (!core) throw new InvalidArgumentError('request.sessionStore is not a SessionCacheStore: register the sessionCache plugin');
  return { core, store: store as SessionCacheStore };
}

function sessionOf(request: FastifyRequest): FastifyRequest['session'] {
  const s = request.session as FastifyRequest['session'] | null | undefined;
  if (!s || typeof s.regenerate !== 'function') throw new InvalidArgumentError('request.session is missing: register the sessionCache plugin');
  return s;
}

/** Options of {@link login}. */
export interface LoginOptions {
  /** Attributes of the current (anonymous) session to carry into the new one, e.g. `['cart']`. */
  keep?: readonly string[];
  /** Attributes to set on the new session, written with it (one write for the whole login). */
  data?: Readonly<Record<string, unknown>>;
}

/**
 * Logs `userId` in: issues a new session bound to the user (in the user's slot, index and
 * `maxSessionsPerUser` limit), carrying the `keep` attributes, and destroys the current one
 * (tombstoned: the old cookie is dead at once). `request.session` is the new session
 * afterwards; set attributes on it as usual, or pass them as `data` (a single write). Needs the store's `idGenerator` (the
 * {@link sessionCache} plugin sets it). A refused login (limit with `onLimit: 'reject'`,
 * Redis down) leaves the current session as it was.
 */
export async function login(request: FastifyRequest, userId: string, options: LoginOptions = {}): Promise<void> {
  const { core, store } = coreOf(request);
  const current = sessionOf(request);
  const keep = (options.keep ?? []).filter((k) => k !== COOKIE_ATTRIBUTE && (current as unknown as Record<string, unknown>)[k] !== undefined);
  const data: Record<string, unknown> = {};
  for (const k of keep) data[k] = (current as unknown as Record<string, unknown>)[k];
  for (const [k, v] of Object.entries(options.data ?? {})) if (k !== COOKIE_ATTRIBUTE && v !== undefined) data[k] = v;
  data[COOKIE_ATTRIBUTE] = freshCookie(current.cookie);
  let created;
  try {
    created = await core.createBound(userId, data);
  } catch (err) {
    throw withHttpStatus(err);
  }
  const finish = store.prepareAdoption(request, created.snapshot);
  let adopted = false;
  try {
    // @fastify/session's regenerate: destroy the old id, build the new session with the id
    // our idGenerator hands out (the one just created), copy `keep`, and `set` it.
    await current.regenerate([...keep]);
  } catch (err) {
    await core.destroy(created.snapshot.sid).catch(() => undefined);
    throw withHttpStatus(err);
  } finally {
    adopted = finish();
  }
  if (!adopted) {
    await core.destroy(created.snapshot.sid).catch(() => undefined);
    throw new InvalidArgumentError("login() needs @fastify/session's idGenerator to be store.idGenerator: register the sessionCache plugin");
  }
  // @fastify/session sends the cookie of a new session only if it was modified or saved
  // through the session object; its regenerate() stored it behind the session's back. This
  // save writes nothing (the snapshot matches) but makes sure the new cookie goes out.
  try {
    await request.session.save();
  } catch (err) {
    throw withHttpStatus(err);
  }
}

/** Destroys the current session (tombstoned at once, everywhere). */
export async function logout(request: FastifyRequest): Promise<void> {
  const s = request.session as FastifyRequest['session'] | null | undefined;
  if (!s || typeof s.destroy !== 'function') return;
  try {
    await s.destroy();
  } catch (err) {
    throw withHttpStatus(err);
  }
}

/** The user the current session is bound to (by {@link login}), if any. */
export function boundUserId(request: FastifyRequest): string | undefined {
  const s = request.session as { sessionId?: string } | null | undefined;
  if (!s) return undefined;
  return coreOf(request).core.boundUser(s.sessionId, snapshotOf(s));
}

function requireUser(request: FastifyRequest): string {
  const userId = boundUserId(request);
  if (userId === undefined) throw new InvalidArgumentError('the session is not bound to a user: call login() first');
  return userId;
}

/**
 * Logs the current user out everywhere: destroys every session of the user (tombstoned, on
 * every instance at once), including this one unless `keepCurrent`. Resolves with how many
 * were destroyed. Throws InvalidArgumentError when the session is not bound to a user.
 */
export async function logoutEverywhere(request: FastifyRequest, options: { keepCurrent?: boolean } = {}): Promise<number> {
  const { core } = coreOf(request);
  const userId = requireUser(request);
  let n: number;
  try {
    n = await core.destroyAllForUser(userId, options.keepCurrent ? request.session.sessionId : undefined);
  } catch (err) {
    throw withHttpStatus(err);
  }
  // This request's session is gone too: @fastify/session must not save it back at onSend.
  if (!options.keepCurrent) (request as { session: unknown }).session = null;
  return n;
}

/**
 * The current user's live sessions, oldest first, the current one marked. Each has an opaque
 * `handle` (never the id). Throws InvalidArgumentError when the session is not bound to a user.
 */
export async function listSessions(request: FastifyRequest): Promise<ListedSession[]> {
  const { core } = coreOf(request);
  const userId = requireUser(request);
  try {
    return await core.listForUser(userId, request.session.sessionId);
  } catch (err) {
    throw withHttpStatus(err);
  }
}
