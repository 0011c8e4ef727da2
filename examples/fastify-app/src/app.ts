/**
 * The example Fastify app: the same tiny shop as the Express example (login, profile, cart,
 * logout, log out everywhere, my sessions), on @fastify/session with the sessioncache store.
 *
 * `buildApp` returns the instance without listening (server.ts listens; tests run two).
 */
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
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
  sessionCache,
} from '@sessioncache/sdk/fastify';

interface CartLine {
  sku: string;
  qty: number;
}

declare module 'fastify' {
  interface Session {
    user?: { name: string; loggedInAt: number };
    cart?: CartLine[];
  }
}

/** Options of {@link buildApp}. */
export interface AppOptions {
  /** A connected SessionCache (the app does not close it). */
  cache: SessionCache;
  /** Cookie signing secret(s), the first signs; at least 32 characters each. */
  secret: string | string[];
  /** @default 'sid' */
  cookieName?: string;
  /** Session cookie max age = idle timeout, in ms. @default 1_800_000 (30 min) */
  maxAgeMs?: number;
  /** Reset the cookie's expiry on every response. @default true */
  rolling?: boolean;
  /** Fastify `trustProxy`, so `secure: 'auto'` sees TLS terminated at the ingress. @default 'loopback, linklocal, uniquelocal' */
  trustProxy?: string | boolean;
  /** Fastify logger. @default false */
  logger?: boolean;
}

const MAX_CART_LINES = 50;

const loginSchema = {
  body: {
    type: 'object',
    required: ['username'],
    additionalProperties: false,
    properties: { username: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } },
  },
} as const;

const cartSchema = {
  body: {
    type: 'object',
    required: ['sku', 'qty'],
    additionalProperties: false,
    properties: { sku: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' }, qty: { type: 'integer', minimum: 1, maximum: 99 } },
  },
} as const;

function requireUser(request: FastifyRequest, reply: FastifyReply): string | undefined {
  const userId = boundUserId(request);
  if (userId === undefined || !request.session?.user) {
    void reply.code(401).send({ error: 'not_logged_in' });
    return undefined;
  }
  return userId;
}

/** Builds the app (not listening). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { cache } = options;
  const cookieName = options.cookieName ?? 'sid';
  const app = Fastify({ logger: options.logger ?? false, trustProxy: options.trustProxy ?? 'loopback, linklocal, uniquelocal', bodyLimit: 16 * 1024 });
  const store = new SessionCacheStore({ cache });

  // Liveness, independent of Redis (see the Express example).
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/stats', async () => ({
    stats: cache.stats(),
    histograms: cache.metrics.snapshot().histograms.filter((h) => h.name === 'operation_duration_seconds'),
  }));

  await app.register(fastifyCookie);
  await app.register(sessionCache, {
    store,
    secret: options.secret,
    cookieName,
    saveUninitialized: false,
    rolling: options.rolling ?? true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/', maxAge: options.maxAgeMs ?? 30 * 60_000 },
  });

  app.post<{ Body: { username: string } }>('/login', { schema: loginSchema }, async (request) => {
    const name = request.body.username;
    // New id in the user's slot, anonymous cart carried over, old id dead at once.
    await login(request, name, { keep: ['cart'], data: { user: { name, loggedInAt: Date.now() } } });
    return { user: request.session.user };
  });

  app.get('/profile', async (request, reply) => {
    if (requireUser(request, reply) === undefined) return reply;
    return { user: request.session.user, cartLines: request.session.cart?.length ?? 0 };
  });

  app.get('/cart', async (request) => ({ items: request.session.cart ?? [] }));

  app.post<{ Body: CartLine }>('/cart', { schema: cartSchema }, async (request, reply) => {
    const { sku, qty } = request.body;
    const cart = request.session.cart ?? [];
    const line = cart.find((l) => l.sku === sku);
    if (line) line.qty = Math.min(99, line.qty + qty);
    else if (cart.length >= MAX_CART_LINES) return reply.code(409).send({ error: 'cart_full' });
    else cart.push({ sku, qty });
    request.session.cart = cart;
    return reply.code(201).send({ items: cart });
  });

  app.delete('/cart', async (request, reply) => {
    delete request.session.cart;
    return reply.code(204).send();
  });

  app.post('/logout', async (request, reply) => {
    await logout(request);
    void reply.clearCookie(cookieName, { path: '/' });
    return reply.code(204).send();
  });

  app.post<{ Body: { keepCurrent?: boolean } | undefined }>('/logout-everywhere', async (request, reply) => {
    if (requireUser(request, reply) === undefined) return reply;
    const keepCurrent = request.body?.keepCurrent === true;
    const destroyed = await logoutEverywhere(request, { keepCurrent });
    if (!keepCurrent) void reply.clearCookie(cookieName, { path: '/' });
    return { destroyed };
  });

  app.get('/sessions', async (request, reply) => {
    if (requireUser(request, reply) === undefined) return reply;
    return { sessions: await listSessions(request) };
  });

  app.delete<{ Params: { handle: string } }>(
    '/sessions/:handle',
    { schema: { params: { type: 'object', properties: { handle: { type: 'string', pattern: '^[A-Za-z0-9_-]{32}$' } } } } },
    async (request, reply) => {
      const userId = requireUser(request, reply);
      if (userId === undefined) return reply;
      const existed = await cache.destroyByHandle(userId, request.params.handle);
      return reply.code(existed ? 204 : 404).send();
    },
  );

  // A status that says what happened (503 while Redis is down, 409 for a session destroyed
  // meanwhile), a body that reveals nothing internal. Fastify's own 4xx (schemas) pass through.
  app.setErrorHandler((error, request, reply) => {
    const err = error as { statusCode?: unknown; code?: unknown; message?: unknown };
    const fromSdk = typeof err.code === 'string' && err.code.startsWith('SC_ERR_');
    const clientError = !fromSdk && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500;
    const status = clientError ? (err.statusCode as number) : httpStatusFor(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    void reply
      .code(status)
      .header('cache-control', 'no-store')
      .send(clientError ? { error: 'bad_request', message: String(err.message) } : errorBody(error));
  });

  return app;
}
