/**
 * Entry point (`node dist/server.js`), configured like the Express example: PORT (3000), HOST
 * (0.0.0.0), REDIS_CLUSTER_NODES (or REDIS_STANDALONE), SESSION_SECRET (32+ characters),
 * SESSIONCACHE_SIDECAR_URL, SESSIONCACHE_USER_TAG_SECRET, SESSION_MAX_AGE_MS,
 * SESSIONCACHE_METRICS_INTERVAL_MS. Stops cleanly on SIGTERM/SIGINT.
 */
import { SessionCache, type ConnectOptions } from '@sessioncache/sdk';
import { buildApp } from './app';

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function positiveInt(name: string): number | undefined {
  const v = env(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<void> {
  const secret = env('SESSION_SECRET');
  if (!secret || secret.length < 32) throw new Error('SESSION_SECRET is required and must have at least 32 characters');
  const cluster = env('REDIS_CLUSTER_NODES');
  const standalone = env('REDIS_STANDALONE');
  if (!cluster && !standalone) throw new Error('REDIS_CLUSTER_NODES is required (host:port,host:port,...)');
  const sidecar = env('SESSIONCACHE_SIDECAR_URL');
  const intervalMs = positiveInt('SESSIONCACHE_METRICS_INTERVAL_MS');
  const options: ConnectOptions = {
    redis: cluster ? { cluster } : { standalone: standalone! },
    ...(env('SESSIONCACHE_USER_TAG_SECRET') ? { userTagSecret: env('SESSIONCACHE_USER_TAG_SECRET')! } : {}),
    ...(sidecar ? { metrics: { sidecar, ...(intervalMs ? { intervalMs } : {}) } } : {}),
  };
  const cache = await SessionCache.connect(options);
  const maxAgeMs = positiveInt('SESSION_MAX_AGE_MS');
  const previous = env('SESSION_SECRET_PREVIOUS');
  const app = await buildApp({ cache, secret: previous ? [secret, previous] : secret, logger: true, ...(maxAgeMs ? { maxAgeMs } : {}) });
  // The app does not own the cache: close it after the server has drained.
  app.addHook('onClose', async () => cache.close());
  await app.listen({ port: positiveInt('PORT') ?? 3000, host: env('HOST') ?? '0.0.0.0' });

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 10_000).unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ msg: 'example-fastify failed to start', error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});
