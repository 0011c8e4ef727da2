import Redis from 'ioredis';
import { parseClusterNodes } from './cluster-nodes';

/**
 * FLUSHALL on every master of the cluster reachable through `seeds` (found with CLUSTER NODES),
 * for suites that share one cluster and must start each test empty. Works for clusters this
 * process did not start (REDIS_CLUSTER_NODES).
 */
export async function flushCluster(seeds: Array<{ host: string; port: number }>): Promise<void> {
  let lastError: unknown;
  for (const seed of seeds) {
    const client = new Redis({ ...seed, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const nodes = parseClusterNodes(String(await client.call('CLUSTER', 'NODES')));
      const masters = nodes.filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0);
      await Promise.all(
        masters.map(async (m) => {
          const c = new Redis({ host: m.host || seed.host, port: m.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
          c.on('error', () => undefined);
          try {
            await c.connect();
            await c.flushall();
          } finally {
            c.disconnect();
          }
        }),
      );
      return;
    } catch (err) {
      lastError = err;
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`Could not flush the cluster at ${seeds.map((s) => `${s.host}:${s.port}`).join(',')}: ${String(lastError)}`);
}
