import * as os from 'node:os';
import * as path from 'node:path';
import { DevCluster } from '../cluster';

/** Shared with global-teardown through the jest parent process. */
export const ENV_DIR = 'SESSIONCACHE_DEVCLUSTER_DIR';

/**
 * jest globalSetup: starts one 3-master/3-replica cluster for the whole integration run and
 * exports REDIS_CLUSTER_NODES to the test workers. When REDIS_CLUSTER_NODES is already set, the
 * suites use that cluster and nothing is started.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_CLUSTER_NODES) {
    process.stderr.write(`\n[devcluster] using REDIS_CLUSTER_NODES=${process.env.REDIS_CLUSTER_NODES}\n`);
    return;
  }
  const t0 = Date.now();
  const cluster = await DevCluster.start({
    masters: 3,
    replicas: 1,
    nodeTimeoutMs: 2000,
    dir: path.join(os.tmpdir(), `sessioncache-jest-${process.pid}`),
  });
  process.env.REDIS_CLUSTER_NODES = cluster.seeds;
  process.env[ENV_DIR] = cluster.dir;
  (globalThis as Record<string, unknown>).__SESSIONCACHE_DEVCLUSTER__ = cluster;
  process.stderr.write(`\n[devcluster] 3+3 cluster ready in ${Date.now() - t0} ms: ${cluster.seeds}\n`);
}
