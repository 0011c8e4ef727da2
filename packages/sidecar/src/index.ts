/**
 * @sessioncache/sidecar: receives sessioncache SDK metric reports, probes every Redis Cluster
 * node, and serves Prometheus metrics (/metrics), liveness (/healthz) and readiness (/readyz).
 */
export { build, sidecarVersion } from './app';
export type { BuildOptions, SidecarContext } from './app';
export { startSidecar } from './server';
export type { RunningSidecar } from './server';
export { main } from './cli';
export type { CliIo } from './cli';
export {
  DEFAULT_SIDECAR_OPTIONS,
  LOG_LEVELS,
  resolveSidecarOptions,
  configFromArgs,
  parseHostPort,
  parseNodeList,
  parseDuration,
  USAGE,
} from './options';
export type { SidecarOptions, HostPort, LogLevel, CliConfig } from './options';
export { ReportStore, validateReport } from './report-store';
export type { ReportStoreOptions, ApplyResult } from './report-store';
export { ClusterProbe } from './cluster-probe';
export type { ClusterProbeOptions, NodeStatus, NodeInfo, NodeClusterInfo, Readiness, ProbeLogger } from './cluster-probe';
export { SidecarMetrics, SIDECAR_FAMILIES } from './sidecar-metrics';
export type { ReportResult } from './sidecar-metrics';
export {
  SidecarError,
  SidecarConfigError,
  ReportInvalidError,
  ReportVersionError,
  ReportTooLargeError,
  ReportMediaTypeError,
  TooManyWorkersError,
  RouteNotFoundError,
  ListenError,
  SidecarInternalError,
} from './errors';
