/**
 * The @fastify/session store on the shared cluster, over real HTTP: what the plugin's
 * snapshot hook buys (rolling requests that change nothing write nothing), concurrent
 * requests, failed saves, user binding, and the bare-store mode.
 */
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { SessionCacheStore, boundUserId, listSessions, login, sessionCache } from '@sessioncache/sdk/fastify';
import { connect, useSharedCluster } from '../test-support/harness';
import type { ConnectOptions, SessionCache } from '../session-cache';
import { storeIdOf } from './store-ids';
import { cookieClient, sessionIdOf } from './test-support/cookie-client';

useSharedCluster();

const SECRET = 'fastify-store-test-secret-0123456789abcdef';

declare module 'fastify' {
  interface Session {
    a?: number;
    b?: number;
    big?: string;
  }
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

interface Built {
  url: string;
  cache: SessionCache;
  store: SessionCacheStore;
}

async function build(
  routes: (app: FastifyInstance) => void,
  opts: { plugin?: boolean; cache?: Partial<ConnectOptions>; maxAge?: number } = {},
): Promise<Built> {
  const cache = await connect(opts.cache);
  const store = new SessionCacheStore({ cache });
  const app = Fastify();
  await app.register(fastifyCookie);
  const sessionOptions = { secret: SECRET, saveUninitialized: false, cookie: { secure: false, maxAge: opts.maxAge ?? 60_000 } };
  if (opts.plugin === false) await app.register(fastifySession, { ...sessionOptions, store });
  else await app.register(sessionCache, { ...sessionOptions, store });
  app.post<{ Body: { a?: number; b?: number } }>('/set', async (request) => {
    if (request.body.a !== undefined) request.session.a = request.body.a;
    if (request.body.b !== undefined) request.session.b = request.body.b;
    return { ok: true };
  });
  app.get('/get', async (request) => ({ a: request.session.a ?? null, b: request.session.b ?? null }));
  routes(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  apps.push(app);
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, cache, store };
}

const client = cookieClient;
const sidOf = (cookie: string): string => sessionIdOf(cookie);

const none = (): void => undefined;

describe('with the sessionCache plugin', () => {
  it('rolling requests that change nothing write nothing, yet the cookie is re-sent', async () => {
    const one = await build(none);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const id = storeIdOf(sidOf(c.cookie!))!;
    const version = (await one.cache.get(id))!.version;
    for (let i = 0; i < 10; i++) {
      const res = await c.call('GET', `${one.url}/get`);
      expect(res.body).toEqual({ a: 1, b: null });
      expect(res.setCookie).toBeDefined();
    }
    expect((await one.cache.get(id))!.version).toBe(version);
  });

  it('without the plugin (bare store) the same requests still work, each one a whole-session write', async () => {
    const one = await build(none, { plugin: false });
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const sid = sidOf(c.cookie!);
    expect(sid).toMatch(/^[A-Za-z0-9_-]{32}$/); // @fastify/session's own id generator
    const id = storeIdOf(sid)!;
    const version = (await one.cache.get(id))!.version;
    for (let i = 0; i < 3; i++) expect((await c.call('GET', `${one.url}/get`)).body).toEqual({ a: 1, b: null });
    expect((await one.cache.get(id))!.version).toBe(version + 3);
  });

  it('concurrent requests on two instances changing different attributes both keep their change', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let arrived = 0;
    let bothIn!: () => void;
    const bothArrived = new Promise<void>((r) => (bothIn = r));
    const slow = (app: FastifyInstance) => {
      app.post<{ Body: { a?: number; b?: number } }>('/slow-set', async (request) => {
        if (++arrived === 2) bothIn();
        await gate;
        if (request.body.a !== undefined) request.session.a = request.body.a;
        if (request.body.b !== undefined) request.session.b = request.body.b;
        return { ok: true };
      });
    };
    const one = await build(slow);
    const two = await build(slow);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1, b: 1 });
    const p1 = c.call('POST', `${one.url}/slow-set`, { a: 2 });
    const p2 = c.call('POST', `${two.url}/slow-set`, { b: 3 });
    await bothArrived; // both loaded the session before either saved
    release();
    expect((await p1).status).toBe(200);
    expect((await p2).status).toBe(200);
    expect((await c.call('GET', `${one.url}/get`)).body).toEqual({ a: 2, b: 3 });
  });

  it('a failed save answers an error and sets no cookie', async () => {
    const one = await build(
      (app) => {
        app.post('/big', async (request) => {
          request.session.big = 'x'.repeat(10_000);
          return { saved: true };
        });
      },
      { cache: { maxPayloadBytes: 4096 } },
    );
    const res = await client().call('POST', `${one.url}/big`);
    expect(res.status).toBe(500);
    expect(res.setCookie).toBeUndefined();
    expect(await one.store.length()).toBe(0);
  });

  it("regenerate() keeps a logged-in session bound to its user; login carries the kept attributes", async () => {
    const routes = (app: FastifyInstance) => {
      app.post('/login', async (request) => {
        await login(request, 'u1', { keep: ['a'] });
        request.session.b = 5;
        return { user: boundUserId(request) };
      });
      app.post('/elevate', async (request) => {
        await request.session.regenerate();
        request.session.a = 8; // an untouched regenerated session is "uninitialized": no cookie
        return { user: boundUserId(request) ?? null };
      });
      app.get('/sessions', async (request) => listSessions(request));
    };
    const one = await build(routes);
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 7 });
    const anonymous = c.cookie!;
    expect((await c.call('POST', `${one.url}/login`)).body).toEqual({ user: 'u1' });
    expect((await c.call('GET', `${one.url}/get`)).body).toEqual({ a: 7, b: 5 });
    expect(await one.cache.get(storeIdOf(sidOf(anonymous))!)).toBeNull();
    const loggedIn = c.cookie!;
    expect((await c.call('POST', `${one.url}/elevate`)).body).toEqual({ user: 'u1' });
    expect(c.cookie).not.toBe(loggedIn);
    const list = (await c.call('GET', `${one.url}/sessions`)).body as Array<{ current: boolean }>;
    expect(list).toHaveLength(1);
    expect(list[0]!.current).toBe(true);
  });
});

describe('login', () => {
  it('delivers the new cookie even when the route sets nothing else', async () => {
    const one = await build((app) => {
      app.post('/login', async (request) => {
        await login(request, 'u3');
        return { ok: true };
      });
      app.get('/me', async (request) => ({ user: boundUserId(request) ?? null }));
    });
    const c = client();
    const res = await c.call('POST', `${one.url}/login`);
    expect(res.setCookie).toMatch(/^sessionId=[^;]+;/);
    expect((await c.call('GET', `${one.url}/me`)).body).toEqual({ user: 'u3' });
  });
});

describe('login with data', () => {
  it('is one write: the created session holds the data and the regenerate adopts it', async () => {
    const one = await build((app) => {
      app.post('/login', async (request) => {
        await login(request, 'u4', { keep: ['a'], data: { b: 9 } });
        return { ok: true };
      });
    });
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 4 });
    await c.call('POST', `${one.url}/login`);
    const s = (await one.cache.get(storeIdOf(sidOf(c.cookie!))!))!;
    expect([s.userId, s.version]).toEqual(['u4', 1]);
    expect((await c.call('GET', `${one.url}/get`)).body).toEqual({ a: 4, b: 9 });
  });
});

describe('login without the plugin', () => {
  it("refuses (the framework's id generator cannot put the session in the user's slot) and leaves nothing behind", async () => {
    const one = await build(
      (app) => {
        app.post('/login', async (request, reply) => {
          try {
            await login(request, 'u2');
            return { ok: true };
          } catch (err) {
            return reply.code(500).send({ code: (err as { code?: string }).code });
          }
        });
      },
      { plugin: false },
    );
    const c = client();
    await c.call('POST', `${one.url}/set`, { a: 1 });
    const res = await c.call('POST', `${one.url}/login`);
    expect(res.body).toEqual({ code: 'SC_ERR_INVALID_ARGUMENT' });
    expect(await one.cache.listByUser('u2')).toEqual([]);
  });
});
