/**
 * @sessioncache/devcluster: a real Redis Cluster on 127.0.0.1 for development, tests, demos and
 * benchmarks, with fault injection (kill, pause, restart, wait for failover).
 */
export { DevCluster, startCluster, parseSeeds } from './cluster';
export type { DevClusterNode, NodeRef } from './cluster';
export { flushCluster } from './flush';
export { StandaloneRedis } from './standalone';
export type { StandaloneRedisOptions } from './standalone';
export { DEFAULT_DEVCLUSTER_OPTIONS, resolveDevClusterOptions } from './options';
export type { DevClusterOptions, DevClusterBackend, ResolvedDevClusterOptions } from './options';
export {
  DevClusterError,
  DevClusterStateError,
  DevClusterTimeoutError,
  NodeStartError,
  RedisNotInstalledError,
  UnknownNodeError,
} from './errors';
export { parseClusterNodes, parseInfo } from './cluster-nodes';
export type { ClusterNodeEntry } from './cluster-nodes';
