/**
 * @sessioncache/sdk: sessions on Redis Cluster with an invalidated in-process near cache.
 */
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
