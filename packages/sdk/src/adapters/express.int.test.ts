/**
 * The express-session store on the shared cluster: real express-session, real HTTP where the
 * behaviour is express-session's, direct store calls where it is the store's.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request } from 'express';
import session from 'express-session';
import { SessionCacheStore, listSessions, login, saveBeforeResponse, saveSession } from '@sessioncache/sdk/express';
import { allKeys, connect, onEveryMaster, useSharedCluster } from '../test-support/harness';
import type { SessionCache } from '../session-cache';
import type { ConnectOptions } from '../session-cache';
import { storeIdOf } from './store-ids';
import { cookieClient, sessionIdOf } from './test-support/cookie-client';

useSharedCluster();

const SECRET = 'express-store-test-secret-0123456789abcdef';

declare module 'express-session' {
  interface SessionData {
    a?: number;
    b?: number;
    list?: number[];
    big?: string;
    note?: string;
  }
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** An express app on its own SessionCache with the store; `routes` adds the test's routes. */
async function app(
  routes: (app: express.Express, store: SessionCacheStore) => void,
  opts: { genid?: boolean; helper?: boolean; cookie?: session.CookieOptions; cache?: Partial<ConnectOptions> } = {},
): Promise<{ url: string; store: SessionCacheStore; cache: SessionCache }> {
  const cache = await connect(opts.cache);
  const store = new SessionCacheStore({ cache });
  const a = express();
  a.use(express.json());
  a.use(
    session({
      store,
      ...(opts.genid === false ? {} : { genid: store.genid }),
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: opts.cookie ?? { maxAge: 60_000 },
    }),
  );
  if (opts.helper !== false) a.use(saveBeforeResponse());
  routes(a, store);
  a.use((err: { statusCode?: number; code?: string }, _req: Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.statusCode ?? 500).json({ code: err.code });
  });
  const server = a.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, store, cache };
}

const client = cookieClient;

/** The session id inside express-session's signed cookie `name=s:<id>.<mac>`. */
const sidOf = (cookie: string): string => sessionIdOf(cookie, 's:');

/** What express-session does with a loaded session: restore it on a request object. */
async function load(store: SessionCacheStore, sid: string): Promise<session.Session & session.SessionData> {
  const data = await new Promise<session.SessionData | null | undefined>((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
  if (!data) throw new Error('no session');
  const req = { sessionID: sid, sessionStore: store } as unknown as Request;
  return store.createSession(req, data);
}

function save(store: SessionCacheStore, sid: string, s: session.SessionData): Promise<void> {
  return new Promise((resolve, reject) => store.set(sid, s, (err) => (err ? reject(err) : resolve())));
}

const rw = (a: express.Express) => {
  a.post('/set', (req, res) => {
    Object.assign(req.session, req.body);
    res.json({ ok: true });
  });
  a.get('/get', (req, res) => {
    res.json({ a: req.session.a, b: req.session.b, list: req.session.list, cookie: req.session.cookie });
  });
};

describe('ids', () => {
  it("stores express-session's own default ids under a derived id: the cookie's id never reaches Redis", async () => {
    const one = await app(rw, { genid: false });
    const two = await app(rw, { genid: false });
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 7 });
    const sid = sidOf(c.cookie!);
    expect(sid).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await c.call('GET', `${two.url}/get`)).body).toMatchObject({ a: 7 });
    const keys = await allKeys();
    expect(keys.filter((k) => k.includes('s:{'))).toHaveLength(1);
    expect(keys.join(' ')).not.toContain(sid);
  });

  it('issues sessioncache ids with genid, and reads garbage as no session (a fresh one), never an error', async () => {
    const one = await app(rw);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    expect(sidOf(c.cookie!)).toMatch(/^[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{43}$/);
    for (const bad of [undefined, '', 'a.b', 'x'.repeat(5000), '+'.repeat(32), `${sidOf(c.cookie!)}x`, 42, {}]) {
      const got = await new Promise((resolve, reject) => one.store.get(bad as string, (err, s) => (err ? reject(err) : resolve(s))));
      expect(got).toBeNull();
    }
    await expect(save(one.store, 'not-an-id', { cookie: {} } as session.SessionData)).rejects.toMatchObject({ code: 'SC_ERR_INVALID_SESSION_ID' });
  });
});

describe('saves', () => {
  it('write only what changed: concurrent requests changing different attributes both keep their change', async () => {
    const one = await app(rw);
    const two = await app(rw);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1, b: 1 });
    const sid = sidOf(c.cookie!);
    // Two requests of the same session, on two instances, both loaded before either saved.
    const onA = await load(one.store, sid);
    const onB = await load(two.store, sid);
    onA.a = 2;
    onB.b = 3;
    await save(one.store, sid, onA);
    await save(two.store, sid, onB);
    expect((await c.call('GET', `${one.url}/get`)).body).toMatchObject({ a: 2, b: 3 });
    // A second save of the same request must not write its stale view of `b` back.
    onA.list = [1];
    await save(one.store, sid, onA);
    expect((await c.call('GET', `${two.url}/get`)).body).toMatchObject({ a: 2, b: 3, list: [1] });
  });

  it('saving an unchanged session writes nothing (no version bump, no invalidation elsewhere)', async () => {
    const one = await app(rw);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const sid = sidOf(c.cookie!);
    const before = (await one.cache.get(storeIdOf(sid)!))!.version;
    const s = await load(one.store, sid);
    await save(one.store, sid, s);
    await save(one.store, sid, s);
    expect((await one.cache.get(storeIdOf(sid)!))!.version).toBe(before);
    s.a = 2;
    await save(one.store, sid, s);
    expect((await one.cache.get(storeIdOf(sid)!))!.version).toBe(before + 1);
  });

  it('hands out objects the app may mutate without corrupting the near cache', async () => {
    const one = await app(rw);
    const c = client();
    await c.call('POST', `${one.url}/set`, { list: [1, 2] });
    const sid = sidOf(c.cookie!);
    const first = await load(one.store, sid);
    first.list!.push(3);
    first.a = 9;
    const hits = one.cache.stats().nearCache.hits;
    const second = await load(one.store, sid);
    expect(one.cache.stats().nearCache.hits).toBeGreaterThan(hits);
    expect(second.list).toEqual([1, 2]);
    expect(second.a).toBeUndefined();
  });

  it('never brings back a session destroyed meanwhile (logout racing a slow request)', async () => {
    const one = await app(rw);
    const two = await app(rw);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const sid = sidOf(c.cookie!);
    const slow = await load(one.store, sid);
    await new Promise<void>((resolve, reject) => two.store.destroy(sid, (err) => (err ? reject(err) : resolve())));
    slow.a = 2;
    await expect(save(one.store, sid, slow)).rejects.toMatchObject({ code: 'SC_ERR_SESSION_NOT_FOUND', statusCode: 409 });
    // Nor can a save without a snapshot (a whole-session write) recreate it.
    await expect(save(one.store, sid, { cookie: {}, a: 3 } as unknown as session.SessionData)).rejects.toMatchObject({ code: 'SC_ERR_SESSION_NOT_FOUND' });
    expect(await one.cache.get(storeIdOf(sid)!)).toBeNull();
  });

  it('stores the cookie and restores it: maxAge, expires and attributes, with the Redis idle timeout following maxAge', async () => {
    const routes = (a: express.Express) => {
      rw(a);
      a.get('/cookie', (req, res) => {
        const ck = req.session.cookie;
        res.json({ originalMaxAge: ck.originalMaxAge, expiresIsDate: ck.expires instanceof Date, maxAge: ck.maxAge, sameSite: ck.sameSite, path: ck.path, httpOnly: ck.httpOnly });
      });
    };
    const cookie: session.CookieOptions = { maxAge: 90_000, sameSite: 'strict', path: '/', httpOnly: true };
    const one = await app(routes, { cookie });
    const two = await app(routes, { cookie });
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const res = await c.call('GET', `${two.url}/cookie`);
    expect(res.body).toMatchObject({ originalMaxAge: 90_000, expiresIsDate: true, sameSite: 'strict', path: '/', httpOnly: true });
    expect(res.body.maxAge).toBeGreaterThan(80_000);
    expect(res.body.maxAge).toBeLessThanOrEqual(90_000);
    const s = (await one.cache.get(storeIdOf(sidOf(c.cookie!))!))!;
    expect(s.idleExpiresAt - s.lastAccessAt).toBe(90_000);
  });
});

describe('touch', () => {
  it('is cheap: touching on one instance does not invalidate the other instance’s near cache', async () => {
    const one = await app(rw);
    const two = await app(rw);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const sid = sidOf(c.cookie!);
    await load(two.store, sid); // B caches it
    const version = (await one.cache.get(storeIdOf(sid)!))!.version;
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => one.store.touch(sid, {} as session.SessionData, () => resolve()));
    await new Promise((r) => setTimeout(r, 50)); // an invalidation, were there one, would have arrived
    const hits = two.cache.stats().nearCache.hits;
    await load(two.store, sid);
    expect(two.cache.stats().nearCache.hits).toBe(hits + 1);
    expect((await two.cache.get(storeIdOf(sid)!))!.version).toBe(version);
  });
});

describe('store-wide operations on a cluster', () => {
  it('all, length, ids, destroyHandle and clear scan every master; cleared sessions stay dead', async () => {
    const one = await app(rw, { genid: false });
    const store = one.store;
    const sids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const sid = i % 2 ? store.genid() : `${'A'.repeat(28)}${String(i).padStart(4, '0')}`;
      await save(store, sid, { cookie: { originalMaxAge: null }, a: i } as unknown as session.SessionData);
      sids.push(sid);
    }
    const perMaster = await onEveryMaster(async (r) => (await r.keys('sc:s:*')).length);
    expect(perMaster.every((n) => n > 0)).toBe(true);

    const cb = <T>(fn: (cb: (err: unknown, v?: T) => void) => void) => new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
    expect(await cb<number>((k) => store.length(k))).toBe(40);
    const all = await cb<Record<string, { a: number }>>((k) => store.all(k as never));
    expect(Object.values(all).map((s) => s.a).sort((x, y) => x - y)).toEqual([...Array(40).keys()]);
    const handles = await cb<string[]>((k) => store.ids(k));
    expect(new Set(handles)).toEqual(new Set(Object.keys(all)));
    expect(handles.join(' ')).not.toContain(sids[1]!.split('.')[1]!);

    expect(await cb<boolean>((k) => store.destroyHandle(handles[0]!, k))).toBe(true);
    expect(await cb<number>((k) => store.length(k))).toBe(39);

    const survivor = await load(store, sids[5]!);
    await cb((k) => store.clear(k as never));
    expect(await cb<number>((k) => store.length(k))).toBe(0);
    survivor.a = 100;
    await expect(save(store, sids[5]!, survivor)).rejects.toMatchObject({ code: 'SC_ERR_SESSION_NOT_FOUND' });
    await expect(save(store, sids[6]!, { cookie: {}, a: 1 } as unknown as session.SessionData)).rejects.toMatchObject({ code: 'SC_ERR_SESSION_NOT_FOUND' });
  });
});

describe('user binding', () => {
  it("express-session's regenerate() keeps a logged-in session bound to its user", async () => {
    const routes = (a: express.Express) => {
      a.post('/login', async (req, res, next) => {
        try {
          await login(req, 'u1');
          req.session.note = 'in';
          res.json({ ok: true });
        } catch (err) {
          next(err);
        }
      });
      a.post('/elevate', (req, res, next) => {
        req.session.regenerate((err) => {
          if (err) return next(err);
          req.session.note = 'elevated';
          res.json({ ok: true });
        });
      });
      a.get('/sessions', async (req, res, next) => {
        try {
          res.json(await listSessions(req));
        } catch (err) {
          next(err);
        }
      });
    };
    const one = await app(routes);
    const c = client();
    await c.call('POST', `${one.url}/login`);
    const before = c.cookie!;
    await c.call('POST', `${one.url}/elevate`);
    expect(c.cookie).not.toBe(before);
    const list = (await c.call('GET', `${one.url}/sessions`)).body as Array<{ current: boolean }>;
    expect(list).toHaveLength(1);
    expect(list[0]!.current).toBe(true);
    expect(await one.cache.get(storeIdOf(sidOf(before))!)).toBeNull();
  });
});

describe('login', () => {
  it('with data is one write: the session is created with its attributes and not saved again', async () => {
    const one = await app((a) => {
      rw(a);
      a.post('/login', async (req, res, next) => {
        try {
          await login(req, 'u9', { keep: ['a'], data: { note: 'hello' } });
          res.json({ ok: true });
        } catch (err) {
          next(err);
        }
      });
      a.get('/note', (req, res) => {
        res.json({ note: req.session.note, a: req.session.a });
      });
    });
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 4 });
    await c.call('POST', `${one.url}/login`);
    const s = (await one.cache.get(storeIdOf(sidOf(c.cookie!))!))!;
    expect([s.userId, s.version]).toEqual(['u9', 1]);
    expect((await c.call('GET', `${one.url}/note`)).body).toEqual({ note: 'hello', a: 4 });
  });
});

describe('failed saves', () => {
  const bigRoutes = (a: express.Express) => {
    a.post('/big', (req, res) => {
      req.session.big = 'x'.repeat(10_000);
      res.json({ saved: true });
    });
    a.get('/big', (req, res) => {
      res.json({ big: req.session.big?.length ?? 0 });
    });
  };

  it("without the helper, express-session answers 200 with a cookie for a session it never stored (the trap)", async () => {
    const one = await app(bigRoutes, { helper: false, cache: { maxPayloadBytes: 4096 } });
    const c = client();
    const res = await c.call('POST', `${one.url}/big`);
    // express-session sent 200, the body and the cookie before its save failed.
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ saved: true });
    expect(res.setCookie).toBeDefined();
    expect((await c.call('GET', `${one.url}/big`)).body).toEqual({ big: 0 });
    expect(await new Promise((resolve) => one.store.length((_e, n) => resolve(n)))).toBe(0);
  });

  it('saveBeforeResponse turns the failed save into an error response with no session cookie', async () => {
    const one = await app(bigRoutes, { cache: { maxPayloadBytes: 4096 } });
    const c = client();
    const res = await c.call('POST', `${one.url}/big`);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'session_error', code: 'SC_ERR_PAYLOAD_TOO_LARGE' });
    expect(res.setCookie).toBeUndefined();
  });

  it('a session destroyed while a request is in flight: its save is refused with 409, and the logout stands', async () => {
    let release!: () => void;
    let entered!: () => void;
    const inFlight = new Promise<void>((r) => (entered = r));
    const routes = (a: express.Express) => {
      rw(a);
      a.post('/slow', async (req, res) => {
        entered();
        await new Promise<void>((r) => (release = r));
        req.session.a = 42;
        res.json({ saved: true });
      });
      a.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.status(204).end())));
    };
    const one = await app(routes);
    const two = await app(routes);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const pending = c.call('POST', `${one.url}/slow`);
    await inFlight;
    const other = client();
    other.cookie = c.cookie;
    expect((await other.call('POST', `${two.url}/logout`)).status).toBe(204);
    release();
    const res = await pending;
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'session_conflict', code: 'SC_ERR_SESSION_NOT_FOUND' });
    expect((await c.call('GET', `${two.url}/get`)).body.a).toBeUndefined();
  });

  it('saveSession(req) lets a streaming route fail before it starts streaming', async () => {
    const routes = (a: express.Express) => {
      a.post('/stream', async (req, res, next) => {
        req.session.big = 'y'.repeat(Number(req.query.size));
        try {
          await saveSession(req);
        } catch (err) {
          next(err);
          return;
        }
        res.write('part1,');
        res.end('part2');
      });
    };
    const one = await app(routes, { cache: { maxPayloadBytes: 4096 } });
    const ok = await fetch(`${one.url}/stream?size=10`, { method: 'POST' });
    expect([ok.status, await ok.text()]).toEqual([200, 'part1,part2']);
    expect(ok.headers.getSetCookie()).toHaveLength(1);
    const failed = await fetch(`${one.url}/stream?size=10000`, { method: 'POST' });
    expect(failed.status).toBe(500);
    expect(failed.headers.getSetCookie()).toHaveLength(0);
  });
});
