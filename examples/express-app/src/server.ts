/**
 * Entry point (`node dist/server.js`): connects the SessionCache (with the sidecar reporter
 * when SESSIONCACHE_SIDECAR_URL is set), serves the app on PORT, and stops cleanly on SIGTERM
 * or SIGINT (in-flight requests finish, then the cache closes). Configuration: config.ts.
 */
import type { AddressInfo } from 'node:net';
import { SessionCache } from '@sessioncache/sdk';
import { createApp } from './app';
import { configFromEnv } from './config';

async function main(): Promise<void> {
  const config = configFromEnv();
  const cache = await SessionCache.connect(config.cache);
  if (!config.cache.userTagSecret) {
    process.emitWarning('SESSIONCACHE_USER_TAG_SECRET is not set: user routing tags use the built-in key', 'SessionCacheWarning');
  }
  const app = createApp({ cache, secret: config.secret, ...(config.maxAgeMs ? { maxAgeMs: config.maxAgeMs } : {}) });
  const server = app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'example-express listening', url: `http://${config.host}:${port}`, pid: process.pid }));

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(JSON.stringify({ msg: 'stopping', signal }));
    // Hard deadline: a stuck keep-alive connection must not block a rolling update forever.
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close(() => {
      cache.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ msg: 'example-express failed to start', error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});
