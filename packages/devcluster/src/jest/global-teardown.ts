import { DevCluster } from '../cluster';
import { ENV_DIR } from './global-setup';

/** jest globalTeardown: stops the cluster started by global-setup, including restarted nodes. */
export default async function globalTeardown(): Promise<void> {
  const cluster = (globalThis as Record<string, unknown>).__SESSIONCACHE_DEVCLUSTER__ as DevCluster | undefined;
  const dir = process.env[ENV_DIR];
  if (!cluster && !dir) return;
  // Tests may have restarted nodes from their own process; the state file has their pids.
  if (dir) {
    const attached = await DevCluster.attach(dir).catch(() => undefined);
    await attached?.stop();
  }
  await cluster?.stop();
  delete process.env.REDIS_CLUSTER_NODES;
  delete process.env[ENV_DIR];
}
