/**
 * `@sessioncache/sdk/express`: an express-session store on sessioncache, and the helpers
 * express-session lacks (save before responding, bind a user at login, log out everywhere,
 * list my sessions).
 *
 * ```ts
 * const store = new SessionCacheStore({ cache });
 * app.use(session({ store, genid: store.genid, secret, resave: false, saveUninitialized: false, rolling: true,
 *                   cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 30 * 60_000 } }));
 * app.use(saveBeforeResponse());
 * ```
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import { InvalidArgumentError } from '../errors';
import { settle, type NodeCallback } from './callbacks';
import { errorBody, httpStatusFor, withHttpStatus } from './http-status';
import { COOKIE_ATTRIBUTE, freshCookie, storedCookie } from './session-changes';
import { attachSnapshot, snapshotOf, StoreCore, type ListedSession, type SessionCacheStoreOptions } from './store-core';

export { httpStatusFor, errorBody } from './http-status';
export type { SessionCacheStoreOptions, ListedSession } from './store-core';

const cores = new WeakMap<SessionCacheStore, StoreCore>();

/**
 * An express-session `Store` backed by a {@link SessionCache}.
 *
 * - `get` reads through the near cache and returns a deep copy the application may mutate.
 * - `set` writes only the attributes that changed since this request loaded the session
 *   (compared with a snapshot kept on `req.session`), so concurrent requests changing
 *   different attributes both keep their change; it never brings back a session destroyed
 *   meanwhile (the destroy's tombstone refuses it, and the save fails).
 * - `touch` only refreshes the Redis TTL once `touchFraction` of the idle timeout has passed,
 *   usually answering from memory: reading a session does not invalidate other instances.
 * - `destroy` leaves a tombstone; `regenerate` keeps a session bound to a user in that user's
 *   slot; `all`/`length`/`clear`/`ids` scan each master separately (never a cross-slot call).
 *
 * Ids: `genid` issues sessioncache ids; express-session's default ids (32 base64url
 * characters) work too, stored under an id derived from them. Any other cookie value reads as
 * "no session", so express-session issues a fresh id (strict mode).
 *
 * Errors passed to express-session carry a `statusCode` (503 when Redis is unavailable).
 */
export class SessionCacheStore extends session.Store {
  readonly #core: StoreCore;

  constructor(options: SessionCacheStoreOptions) {
    super();
    this.#core = new StoreCore(options);
    cores.set(this, this.#core);
  }

  /** The SessionCache behind the store. */
  get cache(): StoreCore['cache'] {
    return this.#core.cache;
  }

  /**
   * express-session `genid`: a sessioncache id (256 random bits and a random routing tag).
   * Pass it as `session({ genid: store.genid, ... })`.
   */
  readonly genid = (_req?: Request): string => this.#core.generateId();

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    settle(
      this.#core.load(sid).then((loaded) => {
        if (!loaded) return null;
        // express-session needs a cookie; a session created without one (e.g. by the SDK
        // directly) gets a browser-session cookie.
        if (typeof loaded.data[COOKIE_ATTRIBUTE] !== 'object' || loaded.data[COOKIE_ATTRIBUTE] === null) loaded.data[COOKIE_ATTRIBUTE] = { originalMaxAge: null };
        attachSnapshot(loaded.data, loaded.snapshot);
        return loaded.data as unknown as session.SessionData;
      }),
      callback as NodeCallback<session.SessionData | null>,
    );
  }

  override set(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    settle(this.#core.save(sid, sess), callback, (snapshot) => attachSnapshot(sess, snapshot));
  }

  /**
   * Refreshes the idle timeout. A failure is not passed on: express-session would report it
   * only after the response has started (cutting it off), and a missed refresh loses nothing.
   * It is still counted in the SDK's metrics (touch errors).
   */
  override touch(sid: string, _sess: session.SessionData, callback?: () => void): void {
    this.#core.touch(sid).then(
      () => callback?.(),
      () => callback?.(),
    );
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    settle(this.#core.destroy(sid), callback);
  }

  /**
   * Every session's attributes, keyed by *handle* (`<tag>:<hash>`): Redis holds no session
   * ids, only hashes, so ids cannot be listed. Scans every master (SCAN, then HGETALL per key
   * on the node that holds it).
   */
  override all(callback: (err: unknown, obj?: Record<string, session.SessionData> | null) => void): void {
    settle(this.#core.all() as Promise<Record<string, unknown>>, callback as NodeCallback<Record<string, unknown>>);
  }

  /** Number of sessions (SCAN on every master). */
  override length(callback: (err: unknown, length?: number) => void): void {
    settle(this.#core.length(), callback);
  }

  /** Destroys every session of this key prefix, each with its tombstone. */
  override clear(callback?: (err?: unknown) => void): void {
    settle(this.#core.clear(), callback as NodeCallback<number>);
  }

  /** Handles of every session (see {@link all}); connect-redis calls this `ids`. */
  ids(callback: (err: unknown, handles?: string[]) => void): void {
    settle(this.#core.handles(), callback);
  }

  /** Destroys one session by a handle from {@link all} or {@link ids} (an admin "revoke"). */
  destroyHandle(handle: string, callback?: (err: unknown, existed?: boolean) => void): void {
    settle(this.#core.destroyHandle(handle), callback);
  }

  /** Restores a loaded session and keeps its snapshot on `req.session` for change detection. */
  override createSession(req: Request, sess: session.SessionData): session.Session & session.SessionData {
    const snapshot = snapshotOf(sess);
    const created = super.createSession(req, sess);
    if (snapshot) attachSnapshot(created, snapshot);
    return created;
  }

  /**
   * express-session's `req.session.regenerate()`: destroys the old id (tombstone) and starts
   * an empty session under a new id. A session bound to a user stays bound: its new id is
   * issued in the user's slot, so "log out everywhere" and "my sessions" still see it.
   */
  override regenerate(req: Request, callback: (err?: unknown) => void): void {
    const userId = this.#core.boundUser(req.sessionID, snapshotOf(req.session));
    super.regenerate(req, (err?: unknown) => {
      if (err || userId === undefined || !req.session) {
        callback(err === undefined ? undefined : withHttpStatus(err));
        return;
      }
      const id = this.#core.generateId(userId);
      this.#core.bindNext(id, userId);
      const cookie = storedCookie(req.session.cookie) ?? {};
      req.sessionID = id;
      this.createSession(req, { cookie } as unknown as session.SessionData);
      callback();
    });
  }
}

function coreOf(req: Request): StoreCore {
  const store = req.sessionStore as unknown;
  const core = store instanceof SessionCacheStore ? cores.get(store) : undefined;
  if (!core) throw new InvalidArgumentError('req.sessionStore is not a SessionCacheStore: mount express-session with it before this route');
  return core;
}

function sessionOf(req: Request): session.Session & Partial<session.SessionData> {
  if (!req.session) throw new InvalidArgumentError('req.session is missing: mount express-session before this route');
  return req.session;
}

function promisify(fn: (cb: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(withHttpStatus(err)) : resolve())));
}

/**
 * Saves `req.session` now and resolves once it is stored; rejects (with a `statusCode`) if it
 * could not be. Use it before streaming a response (after which a failed save can no longer
 * change the status), or wherever a route must know its session write landed.
 */
export function saveSession(req: Request): Promise<void> {
  const s = sessionOf(req);
  return promisify((cb) => s.save(cb));
}

/** Options of {@link saveBeforeResponse}. */
export interface SaveBeforeResponseOptions {
  /**
   * Also save new sessions that hold nothing (match express-session's `saveUninitialized`).
   * @default false
   */
  saveUninitialized?: boolean;
  /** Called with each save failure turned into an error response (for your logs). */
  onError?: (err: unknown, req: Request) => void;
}

/**
 * Middleware, mounted right after express-session, that makes a failed session save an error
 * response instead of a success.
 *
 * Why: express-session saves at the end of the request, inside `res.end`, *after* it has
 * written the status line, the headers and the `Set-Cookie` for the session. When that save
 * fails (Redis down, a session too large, a session destroyed meanwhile) the client has
 * already been told 200 and given a cookie for a session that was never stored; the error
 * only reaches `next(err)` afterwards, which can merely cut the connection.
 *
 * How: it wraps `res.end` outside express-session's wrapper. When the route ends the
 * response and the session has something to save (changed attributes, or a new session with
 * attributes), it saves first, then lets the response go out. If the save fails, the
 * prepared response is discarded and replaced by a JSON error (`503` when Redis is
 * unavailable, `409` when the session was destroyed meanwhile, `500` otherwise) with no
 * session cookie. A response whose headers were sent before `res.end` (streaming) cannot be
 * changed: call {@link saveSession} before streaming.
 */
export function saveBeforeResponse(options: SaveBeforeResponseOptions = {}): RequestHandler {
  const saveUninitialized = options.saveUninitialized === true;
  return function saveBeforeResponseMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (!req.session) {
      next();
      return;
    }
    const core = coreOf(req);
    const end = res.end as (...args: unknown[]) => Response;
    let saving = false;
    res.end = function endAfterSave(this: Response, ...args: unknown[]): Response {
      const s = req.session;
      if (saving || res.headersSent || !s || typeof req.sessionID !== 'string' || !core.needsSave(req.sessionID, s, saveUninitialized)) {
        return end.apply(this, args);
      }
      saving = true;
      s.save((err?: unknown) => {
        if (!err) {
          end.apply(res, args);
          return;
        }
        options.onError?.(err, req);
        // Without req.session, express-session neither saves again nor sets its cookie.
        delete (req as { session?: unknown }).session;
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        const body = JSON.stringify(errorBody(err));
        res.statusCode = httpStatusFor(err);
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.setHeader('Cache-Control', 'no-store');
        end.call(res, body);
      });
      return this;
    } as Response['end'];
    next();
  };
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
 * (tombstoned: the old cookie is dead at once, the session-fixation defence). `req.session`
 * and `req.sessionID` are the new session afterwards; set attributes on it as usual, or pass
 * them as `data` so that the login is a single write.
 *
 * The new session is created before the old one is destroyed, so a refused login (the
 * per-user limit with `onLimit: 'reject'`, Redis down) leaves the visitor's current session
 * as it was. Rejects with the SDK's errors (with a `statusCode`).
 */
export async function login(req: Request, userId: string, options: LoginOptions = {}): Promise<void> {
  const core = coreOf(req);
  const current = sessionOf(req) as unknown as Record<string, unknown>;
  const data: Record<string, unknown> = {};
  for (const k of options.keep ?? []) {
    if (k !== COOKIE_ATTRIBUTE && current[k] !== undefined) data[k] = current[k];
  }
  for (const [k, v] of Object.entries(options.data ?? {})) if (k !== COOKIE_ATTRIBUTE && v !== undefined) data[k] = v;
  data[COOKIE_ATTRIBUTE] = freshCookie(current[COOKIE_ATTRIBUTE]);
  let created;
  try {
    created = await core.createBound(userId, data);
  } catch (err) {
    throw withHttpStatus(err);
  }
  try {
    await core.destroyReplaced(req.sessionID, current);
  } catch (err) {
    // Never hand out the new session while the old id may still be alive.
    await core.destroy(created.snapshot.sid).catch(() => undefined);
    throw withHttpStatus(err);
  }
  req.sessionID = created.snapshot.sid;
  attachSnapshot(created.data, created.snapshot);
  (req.sessionStore as unknown as SessionCacheStore).createSession(req, created.data as unknown as session.SessionData);
}

/** Destroys the current session (tombstoned at once, everywhere). */
export async function logout(req: Request): Promise<void> {
  const s = req.session;
  if (!s) return;
  await promisify((cb) => s.destroy(cb));
}

/** The user the current session is bound to (by {@link login}), if any. */
export function boundUserId(req: Request): string | undefined {
  if (!req.session) return undefined;
  return coreOf(req).boundUser(req.sessionID, snapshotOf(req.session));
}

function requireUser(req: Request): string {
  const userId = boundUserId(req);
  if (userId === undefined) throw new InvalidArgumentError('the session is not bound to a user: call login() first');
  return userId;
}

/**
 * Logs the current user out everywhere: destroys every session of the user (tombstoned, on
 * every instance at once), including this one unless `keepCurrent` (e.g. after a password
 * change, "sign out my other devices"). Resolves with how many sessions were destroyed.
 * Throws InvalidArgumentError when the session is not bound to a user.
 */
export async function logoutEverywhere(req: Request, options: { keepCurrent?: boolean } = {}): Promise<number> {
  const core = coreOf(req);
  const userId = requireUser(req);
  let n: number;
  try {
    n = await core.destroyAllForUser(userId, options.keepCurrent ? req.sessionID : undefined);
  } catch (err) {
    throw withHttpStatus(err);
  }
  // This request's session is gone too: nothing left to save or touch at the end.
  if (!options.keepCurrent) delete (req as { session?: unknown }).session;
  return n;
}

/**
 * The current user's live sessions, oldest first, the current one marked `current`. Each has
 * an opaque `handle` (never the id), which `cache.destroyByHandle(userId, handle)` accepts to
 * end that one session. Throws InvalidArgumentError when the session is not bound to a user.
 */
export async function listSessions(req: Request): Promise<ListedSession[]> {
  const core = coreOf(req);
  const userId = requireUser(req);
  try {
    return await core.listForUser(userId, req.sessionID);
  } catch (err) {
    throw withHttpStatus(err);
  }
}
