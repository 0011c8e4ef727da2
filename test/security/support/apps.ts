import type { AddressInfo } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import express from 'express';
import session from 'express-session';
import Fastify from 'fastify';
import { SessionCacheStore as ExpressStore } from '@sessioncache/sdk/express';
import { SessionCacheStore as FastifyStore, sessionCache } from '@sessioncache/sdk/fastify';
import type { SessionCache } from '@sessioncache/sdk';

declare module 'express-session' {
  interface SessionData {
    user?: string;
  }
}

/** The cookie name both apps use (generic, as OWASP asks). */
export const COOKIE = 'sid';

/** A minimal app on a framework adapter: GET /me, POST /login, POST /visit (changes the session). */
export interface TinyApp {
  framework: 'express' | 'fastify';
  /** Sends a request with a raw Cookie header; returns status, body and the Set-Cookie value of COOKIE. */
  request(method: 'GET' | 'POST', path: string, cookie?: string): Promise<{ status: number; body: { user?: string | null }; setCookie: string | undefined }>;
  close(): Promise<void>;
}

/** `sid=<value>` from Set-Cookie lines, if one sets a value. */
function pick(lines: string[]): string | undefined {
  for (const line of lines) {
    const pair = line.split(';')[0]!;
    if (pair.startsWith(`${COOKIE}=`) && pair.length > COOKIE.length + 1) return pair;
  }
  return undefined;
}

/** express + express-session + the sessioncache store, over real HTTP. `secrets[0]` signs. */
export async function expressApp(cache: SessionCache, secrets: string[]): Promise<TinyApp> {
  const store = new ExpressStore({ cache });
  const app = express();
  app.use(session({ store, genid: store.genid, secret: secrets, name: COOKIE, resave: false, saveUninitialized: false, rolling: true, cookie: { httpOnly: true, sameSite: 'lax', maxAge: 60_000 } }));
  app.get('/me', (req, res) => {
    res.json({ user: req.session.user ?? null });
  });
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = 'alice';
      req.session.save((e) => (e ? next(e) : res.json({ user: 'alice' })));
    });
  });
  app.post('/visit', (req, res, next) => {
    (req.session as unknown as { visits?: number }).visits = ((req.session as unknown as { visits?: number }).visits ?? 0) + 1;
    req.session.save((e) => (e ? next(e) : res.json({ user: req.session.user ?? null })));
  });
  app.use((err: { statusCode?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.statusCode ?? 500).json({ error: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    framework: 'express',
    async request(method, path, cookie) {
      const res = await fetch(`${url}${path}`, { method, headers: cookie !== undefined ? { cookie } : {}, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as { user?: string | null }) : {}, setCookie: pick(res.headers.getSetCookie()) };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** fastify + @fastify/session through the sessionCache plugin, driven with inject. */
export async function fastifyApp(cache: SessionCache, secrets: string[]): Promise<TinyApp> {
  const store = new FastifyStore({ cache });
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(sessionCache, { store, secret: secrets, cookieName: COOKIE, saveUninitialized: false, cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 60_000 } });
  app.get('/me', async (request) => ({ user: (request.session.get('user' as never) as string | undefined) ?? null }));
  app.post('/login', async (request) => {
    await request.session.regenerate();
    request.session.set('user' as never, 'alice' as never);
    return { user: 'alice' };
  });
  app.post('/visit', async (request) => {
    request.session.set('visits' as never, (((request.session.get('visits' as never) as number | undefined) ?? 0) + 1) as never);
    return { user: (request.session.get('user' as never) as string | undefined) ?? null };
  });
  await app.ready();
  return {
    framework: 'fastify',
    async request(method, path, cookie) {
      const res = await app.inject({ method, url: path, headers: cookie !== undefined ? { cookie } : {} });
      const lines = ([] as string[]).concat((res.headers['set-cookie'] as string | string[] | undefined) ?? []);
      return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as { user?: string | null }) : {}, setCookie: pick(lines) };
    },
    close: () => app.close(),
  };
}
