/**
 * The Express app of the HTTP section, run in its own process (forked by the benchmark, which
 * drives it with autocannon from the parent): express-session over one of the stores, a read
 * route and a write route, sessions populated at start. Config comes as JSON in argv[2];
 * messages go over the IPC channel (see {@link ServerMessage}).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as inspector from 'node:inspector';
import { SessionCache } from '@sessioncache/sdk';
import { saveBeforeResponse, SessionCacheStore } from '@sessioncache/sdk/express';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { nodeRedisCluster } from '../contenders/connect-redis';
import { forEachConcurrent } from '../contenders/contender';
import { BENCH_LIFETIMES } from '../contenders/sessioncache';
import { PayloadFactory } from '../payload';

/** Stores the app can run on. */
export type HttpStoreKind = 'sessioncache' | 'connect-redis' | 'node-redis-csc';

/** What the parent passes (JSON in argv[2]). */
export interface ServerConfig {
  store: HttpStoreKind;
  seeds: Array<{ host: string; port: number }>;
  sessions: number;
  payloadBytes: number;
  secret: string;
  keyPrefix: string;
  /** Write a CPU profile of the measured rounds (from 'profile' to 'stop') to this file. */
  cpuProfile?: string;
}

/** Messages from the server process. */
export type ServerMessage =
  | { type: 'ready'; port: number; cookies: string[] }
  | { type: 'skip'; reason: string }
  | { type: 'stats'; cpuUs: number; hits: number; misses: number }
  | { type: 'error'; message: string };

/** Messages to the server process. */
export type ParentMessage = { type: 'stats' } | { type: 'profile' } | { type: 'stop' };

const COOKIE_NAME = 'sid';
/** Cookie lifetime: SessionCacheStore takes its idle timeout from it (see BENCH_LIFETIMES). */
const MAX_AGE_MS = BENCH_LIFETIMES.idleTimeoutSec * 1000;

/** express-session's signed cookie value (cookie-signature: HMAC-SHA256, base64 without padding). */
function signedCookie(sid: string, secret: string): string {
  const mac = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  return `${COOKIE_NAME}=${encodeURIComponent(`s:${sid}.${mac}`)}`;
}

interface Backend {
  store: session.Store;
  genid: (() => string) | undefined;
  /** Middleware the store's documentation asks for, mounted after express-session. */
  after: express.RequestHandler[];
  counters(): { hits: number; misses: number };
  close(): Promise<void>;
}

async function backend(config: ServerConfig): Promise<Backend> {
  if (config.store === 'sessioncache') {
    const cache = await SessionCache.connect({
      redis: { cluster: config.seeds },
      keyPrefix: config.keyPrefix,
      idleTimeoutSec: BENCH_LIFETIMES.idleTimeoutSec,
      nearCache: { maxEntries: config.sessions, maxBytes: config.sessions * (config.payloadBytes + 2048), maxTtlMs: BENCH_LIFETIMES.nearCacheMaxTtlMs },
    });
    const store = new SessionCacheStore({ cache });
    return {
      store,
      genid: store.genid,
      after: [saveBeforeResponse()],
      counters: () => {
        const s = cache.stats().nearCache;
        return { hits: s.hits, misses: s.misses };
      },
      close: () => cache.close(),
    };
  }
  const csc = config.store === 'node-redis-csc';
  const client = nodeRedisCluster(config.seeds, csc ? config.sessions : undefined);
  client.on('error', () => undefined);
  await client.connect();
  return {
    store: new RedisStore({ client, prefix: config.keyPrefix }),
    genid: undefined,
    after: [],
    counters: () => {
      const s = client.clientSideCache?.stats();
      return { hits: s?.hitCount ?? 0, misses: s?.missCount ?? 0 };
    },
    close: () => client.close(),
  };
}

function promiseOf<T>(fn: (cb: (err: unknown, v?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
  const send = (m: ServerMessage): void => {
    process.send?.(m);
  };
  let be: Backend;
  try {
    be = await backend(config);
  } catch (err) {
    send({ type: 'skip', reason: (err as Error).message });
    process.disconnect?.();
    return;
  }
  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      store: be.store,
      secret: config.secret,
      name: COOKIE_NAME,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE_MS, httpOnly: true, sameSite: 'lax' },
      ...(be.genid ? { genid: be.genid } : {}),
    }),
  );
  for (const mw of be.after) app.use(mw);
  // Reads the session (express-session then touches it): 98% of requests.
  app.get('/read', (req, res) => {
    const s = req.session as unknown as { user?: { id?: string } };
    res.json({ user: s.user?.id ?? null });
  });
  // Changes one attribute (express-session then saves it): 2% of requests.
  app.get('/write', (req, res) => {
    const s = req.session as unknown as { visits?: number; user?: { id?: string } };
    s.visits = (s.visits ?? 0) + 1;
    res.json({ user: s.user?.id ?? null, visits: s.visits });
  });

  // Sessions as express-session would have stored them after a login.
  const payload = new PayloadFactory(config.payloadBytes);
  const sids: string[] = new Array(config.sessions);
  const cookies: string[] = new Array(config.sessions);
  const expires = new Date(Date.now() + MAX_AGE_MS).toISOString();
  await forEachConcurrent(0, config.sessions, 128, async (i) => {
    const sid = be.genid ? be.genid() : randomBytes(24).toString('base64url');
    const data = { cookie: { originalMaxAge: MAX_AGE_MS, expires, httpOnly: true, path: '/', sameSite: 'lax' }, ...payload.data(i) };
    await promiseOf<void>((cb) => be.store.set(sid, data as unknown as session.SessionData, (err) => cb(err)));
    sids[i] = sid;
    cookies[i] = signedCookie(sid, config.secret);
  });

  // Steady state: a local cache reads every session once, coldest first (as the micro workloads do).
  if (config.store !== 'connect-redis') {
    await forEachConcurrent(0, sids.length, 64, (k) => promiseOf((cb) => be.store.get(sids[sids.length - 1 - k]!, cb)).catch(() => undefined));
  }

  const server = http.createServer(app);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const profiler = config.cpuProfile ? new inspector.Session() : undefined;
  const post = (method: string): Promise<unknown> =>
    new Promise((resolve, reject) => profiler!.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'stats') {
      const cpu = process.cpuUsage();
      send({ type: 'stats', cpuUs: cpu.user + cpu.system, ...be.counters() });
    } else if (m.type === 'profile' && profiler) {
      profiler.connect();
      void post('Profiler.enable').then(() => post('Profiler.start'));
    } else if (m.type === 'stop') {
      server.closeAllConnections();
      server.close();
      const profiled = profiler
        ? post('Profiler.stop').then((r) => writeFileSync(config.cpuProfile!, JSON.stringify((r as { profile: unknown }).profile)), () => undefined)
        : Promise.resolve();
      void profiled.finally(() => be.close().finally(() => process.disconnect?.()));
    }
  });
  send({ type: 'ready', port, cookies });
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', message: (err as Error)?.stack ?? String(err) } satisfies ServerMessage);
  process.exitCode = 1;
  process.disconnect?.();
});
