/**
 * The example Express app: a tiny shop with login, profile, cart, logout, "log out
 * everywhere" and "my sessions", on express-session with the sessioncache store.
 *
 * `createApp` builds the app without listening (server.ts listens; tests run two of them).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import type { SessionCache } from '@sessioncache/sdk';
import {
  SessionCacheStore,
  boundUserId,
  errorBody,
  httpStatusFor,
  listSessions,
  login,
  logout,
  logoutEverywhere,
  saveBeforeResponse,
} from '@sessioncache/sdk/express';
import { cartItem, MAX_CART_LINES, userName, type CartLine } from './validation';

declare module 'express-session' {
  interface SessionData {
    user?: { name: string; loggedInAt: number };
    cart?: CartLine[];
  }
}

/** Options of {@link createApp}. */
export interface AppOptions {
  /** A connected SessionCache (the app does not close it). */
  cache: SessionCache;
  /** Cookie signing secret(s), the first signs; at least 32 characters each. */
  secret: string | string[];
  /** @default 'connect.sid' (the name the gateway-affinity example hashes on) */
  cookieName?: string;
  /** Session cookie max age = idle timeout, in ms. @default 1_800_000 (30 min) */
  maxAgeMs?: number;
  /** Reset the cookie's expiry on every response. @default true */
  rolling?: boolean;
  /** Express `trust proxy`, so `secure: 'auto'` sees TLS terminated at the ingress. @default 'loopback, linklocal, uniquelocal' */
  trustProxy?: string | boolean | number;
  /** Where errors go. @default console.error */
  logError?: (message: string, err: unknown) => void;
}

const asyncRoute =
  (fn: (req: Request, res: Response) => Promise<void>) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };

function requireUser(req: Request, res: Response): string | undefined {
  const userId = boundUserId(req);
  if (userId === undefined || !req.session.user) {
    res.status(401).json({ error: 'not_logged_in' });
    return undefined;
  }
  return userId;
}

/** Builds the app (not listening). */
export function createApp(options: AppOptions): express.Express {
  const { cache } = options;
  const logError = options.logError ?? ((message, err) => console.error(message, err));
  const store = new SessionCacheStore({ cache });
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? 'loopback, linklocal, uniquelocal');

  // Liveness: the process answers. Deliberately independent of Redis, so that a Redis outage
  // turns requests into quick 503s instead of restarting every pod.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // In-process SDK counters, for the demo's summary (no ids, no user data).
  app.get('/stats', (_req, res) => {
    const snap = cache.metrics.snapshot();
    const histograms = snap.histograms.filter((h) => h.name === 'operation_duration_seconds');
    res.json({ stats: cache.stats(), histograms });
  });

  app.use(express.json({ limit: '16kb' }));
  app.use(
    session({
      store,
      genid: store.genid,
      name: options.cookieName ?? 'connect.sid',
      secret: options.secret,
      resave: false,
      saveUninitialized: false,
      rolling: options.rolling ?? true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/', maxAge: options.maxAgeMs ?? 30 * 60_000 },
    }),
  );
  // A session that cannot be saved must fail the request, not answer 200 with a dead cookie.
  app.use(saveBeforeResponse({ onError: (err) => logError('session save failed', err) }));

  app.post(
    '/login',
    asyncRoute(async (req, res) => {
      const name = userName(req.body?.username);
      if (name === undefined) {
        res.status(400).json({ error: 'username must be 1-64 characters of [A-Za-z0-9_.-]' });
        return;
      }
      // New id in the user's slot, anonymous cart carried over, old id dead at once: one write.
      await login(req, name, { keep: ['cart'], data: { user: { name, loggedInAt: Date.now() } } });
      res.json({ user: req.session.user });
    }),
  );

  app.get('/profile', (req, res) => {
    if (requireUser(req, res) === undefined) return;
    res.json({ user: req.session.user, cartLines: req.session.cart?.length ?? 0 });
  });

  app.get('/cart', (req, res) => {
    res.json({ items: req.session.cart ?? [] });
  });

  app.post('/cart', (req, res) => {
    const item = cartItem(req.body);
    if (!item) {
      res.status(400).json({ error: 'expected { sku: string, qty: 1..99 }' });
      return;
    }
    const cart = req.session.cart ?? [];
    const line = cart.find((l) => l.sku === item.sku);
    if (line) line.qty = Math.min(99, line.qty + item.qty);
    else if (cart.length >= MAX_CART_LINES) {
      res.status(409).json({ error: 'cart_full' });
      return;
    } else cart.push(item);
    req.session.cart = cart;
    res.status(201).json({ items: cart });
  });

  app.delete('/cart', (req, res) => {
    delete req.session.cart;
    res.status(204).end();
  });

  app.post(
    '/logout',
    asyncRoute(async (req, res) => {
      await logout(req);
      res.clearCookie(options.cookieName ?? 'connect.sid', { path: '/' });
      res.status(204).end();
    }),
  );

  app.post(
    '/logout-everywhere',
    asyncRoute(async (req, res) => {
      if (requireUser(req, res) === undefined) return;
      const keepCurrent = req.body?.keepCurrent === true;
      const destroyed = await logoutEverywhere(req, { keepCurrent });
      if (!keepCurrent) res.clearCookie(options.cookieName ?? 'connect.sid', { path: '/' });
      res.json({ destroyed });
    }),
  );

  app.get(
    '/sessions',
    asyncRoute(async (req, res) => {
      if (requireUser(req, res) === undefined) return;
      res.json({ sessions: await listSessions(req) });
    }),
  );

  app.delete(
    '/sessions/:handle',
    asyncRoute(async (req, res) => {
      const userId = requireUser(req, res);
      if (userId === undefined) return;
      const handle = String(req.params.handle);
      if (!/^[A-Za-z0-9_-]{32}$/.test(handle)) {
        res.status(400).json({ error: 'bad handle' });
        return;
      }
      const existed = await cache.destroyByHandle(userId, handle);
      res.status(existed ? 204 : 404).end();
    }),
  );

  // Errors (Redis down while loading the session, a refused login...): a status that says
  // what happened, a body that reveals nothing internal.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = (err as { type?: string }).type === 'entity.parse.failed' ? 400 : httpStatusFor(err);
    if (status >= 500) logError('request failed', err);
    res.status(status).set('Cache-Control', 'no-store').json(status === 400 ? { error: 'bad_request' } : errorBody(err));
  });

  return app;
}
