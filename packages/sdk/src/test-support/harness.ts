import Redis, { Cluster } from 'ioredis';
import { flushCluster, parseClusterNodes, parseSeeds } from '@sessioncache/devcluster';
import { SessionCache, type ConnectOptions } from '../session-cache';

/** Seeds of the shared integration cluster (started by the jest global setup). */
export function seeds(): Array<{ host: string; port: number }> {
  const env = process.env.REDIS_CLUSTER_NODES;
  if (!env) throw new Error('REDIS_CLUSTER_NODES is not set: run integration tests with jest.int.config.js');
  return parseSeeds(env);
}

const open: Array<{ close(): Promise<void> | void }> = [];

/** A SessionCache on the shared cluster, closed automatically after the test. */
export async function connect(overrides: Partial<ConnectOptions> = {}): Promise<SessionCache> {
  const cache = await SessionCache.connect({ redis: { cluster: seeds() }, ...overrides });
  open.push(cache);
  return cache;
}

/** A raw ioredis Cluster on the shared cluster, closed automatically after the test. */
export function raw(): Cluster {
  const c = new Cluster(seeds());
  c.on('error', () => undefined);
  open.push({ close: () => c.disconnect() });
  return c;
}

/** Registers something to close after the current test. */
export function track<T extends { close(): Promise<void> | void }>(x: T): T {
  open.push(x);
  return x;
}

/** Closes everything opened by the current test. */
export async function closeAll(): Promise<void> {
  const all = open.splice(0);
  await Promise.all(all.map((x) => Promise.resolve(x.close()).catch(() => undefined)));
}

/** FLUSHALL on every master of the shared cluster. */
export function flush(): Promise<void> {
  return flushCluster(seeds());
}

/** Masters of the shared cluster as `{ host, port }`. */
export async function masters(): Promise<Array<{ host: string; port: number }>> {
  const c = raw();
  const text = String(await c.cluster('NODES'));
  return parseClusterNodes(text)
    .filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0)
    .map((n) => ({ host: n.host, port: n.port }));
}

/** Runs a command on every master of the shared cluster (connections closed after). */
export async function onEveryMaster<T>(fn: (r: Redis) => Promise<T>): Promise<T[]> {
  return Promise.all(
    (await masters()).map(async (m) => {
      const r = new Redis(m.port, m.host);
      r.on('error', () => undefined);
      try {
        return await fn(r);
      } finally {
        r.disconnect();
      }
    }),
  );
}

/** Every key on every master. */
export async function allKeys(): Promise<string[]> {
  return (await onEveryMaster((r) => r.keys('*'))).flat();
}

/** Standard hooks for a suite on the shared cluster. */
export function useSharedCluster(): void {
  beforeEach(async () => {
    await flush();
  });
  afterEach(async () => {
    await closeAll();
  });
}

/** Waits until `check` is truthy or throws after `timeoutMs` (for asynchronous effects). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
