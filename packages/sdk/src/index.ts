/**
 * @sessioncache/sdk: sessions on Redis Cluster with an invalidated in-process near cache.
 */
export { SessionCache } from './session-cache';
export type { ConnectOptions, CacheStats, SessionCacheLogger } from './session-cache';
export type { Session, SessionInfo, CreateSessionInput, UpdateOptions, RegenerateOptions } from './session';
export { DEFAULT_OPTIONS, resolveOptions } from './options';
export type {
  SessionCacheOptions,
  ResolvedOptions,
  RedisTarget,
  NodeAddress,
  NearCacheOptions,
  DurabilityOptions,
  MetricsOptions,
  InvalidationMode,
} from './options';
export type { EncryptionOptions, EncryptionKey } from './codec';
export type { NearCacheStats, NearCacheMode } from './near-cache/near-cache';
export { isSessionId, SESSION_ID_LENGTH, MAX_ID_LENGTH } from './ids';
export { CellRing, CellRouter, CELL_NAME_PATTERN, DEFAULT_CELL_WEIGHT } from './routing/ring';
export type { CellWeight, CellRingOptions, CellRoute } from './routing/ring';
export type { CellOption, CellsTarget, RedisOption, ClusterTarget, StandaloneTarget } from './options';
export {
  SessionCacheError,
  InvalidOptionsError,
  InvalidArgumentError,
  InvalidSessionIdError,
  VersionConflictError,
  SessionNotFoundError,
  SessionLimitError,
  PayloadTooLargeError,
  DecodeError,
  RedisUnavailableError,
  RedisTimeoutError,
  RedisCommandError,
  DurabilityError,
  CacheClosedError,
  ERROR_CODES,
} from './errors';
export type { ErrorCode } from './errors';
export {
  METRIC_PREFIX,
  LATENCY_BUCKETS_SECONDS,
  OPERATIONS,
  OPERATION_RESULTS,
  TIERS,
  FLUSH_REASONS,
  EVICTION_REASONS,
  SDK_METRICS,
  REPORT_FORMAT_VERSION,
} from './metrics/catalog';
export type {
  Operation,
  OperationResult,
  Tier,
  FlushReason,
  EvictionReason,
  MetricSpec,
  MetricType,
  SdkMetricName,
  MetricsReport,
} from './metrics/catalog';
export { WORKER_NAME_PATTERN, INSTANCE_ID_PATTERN } from './metrics/catalog';
export {
  SdkStats,
  seriesKey,
  validateSeries,
  histogramQuantile,
  mergeHistograms,
  summarizeLatency,
  selectHistograms,
  counterTotal,
} from './metrics/stats';
export type {
  CounterName,
  GaugeName,
  HistogramName,
  CounterHandle,
  HistogramHandle,
  SeriesLabels,
  ValueSample,
  HistogramSample,
  HistogramData,
  StatsSnapshot,
  SdkStatsOptions,
  LatencySummary,
} from './metrics/stats';
export { MetricsReporter, DEFAULT_REPORTER_OPTIONS, defaultWorkerName } from './metrics/reporter';
export type { MetricsReporterOptions, ReporterStats } from './metrics/reporter';
