import { ERROR_CODES } from '../errors';

/**
 * The metric contract shared by the SDK (in-process stats, prom-client binding, reporter) and
 * the sidecar. Names are given without the `sessioncache_` prefix the exporters add. Every
 * label has a closed set of values, so no session or user id can ever become a label and the
 * number of series is bounded. docs/metrics.md documents the same families for operators.
 */

/** Prefix of every exported family. */
export const METRIC_PREFIX = 'sessioncache_';

/** Histogram buckets (seconds) for SDK latency: ~10 µs to ~1 s. */
export const LATENCY_BUCKETS_SECONDS = Object.freeze([
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
]);

/** Public operations, as used in the `op` label. */
export const OPERATIONS = Object.freeze([
  'create',
  'get',
  'get_many',
  'update',
  'put',
  'touch',
  'destroy',
  'regenerate',
  'list_by_user',
  'destroy_all_for_user',
] as const);
export type Operation = (typeof OPERATIONS)[number];

/** Outcome of one operation (`result` label of operations_total). */
export const OPERATION_RESULTS = Object.freeze(['ok', 'not_found', 'conflict', 'rejected', 'error'] as const);
export type OperationResult = (typeof OPERATION_RESULTS)[number];

/** Where a read was served from (`tier` label). */
export const TIERS = Object.freeze(['near', 'redis'] as const);
export type Tier = (typeof TIERS)[number];

/** Why near-cache entries were dropped wholesale (`reason` label of near_cache_flushes_total). */
export const FLUSH_REASONS = Object.freeze([
  'subscriber_lost',
  'connection_lost',
  'flushall',
  'topology_change',
  'tracking_unavailable',
  'closed',
] as const);
export type FlushReason = (typeof FLUSH_REASONS)[number];

/** Why single entries left the near cache (`reason` label of near_cache_evictions_total). */
export const EVICTION_REASONS = Object.freeze(['capacity', 'expired'] as const);
export type EvictionReason = (typeof EVICTION_REASONS)[number];

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One metric family of the contract. */
export interface MetricSpec {
  readonly type: MetricType;
  readonly help: string;
  /** Label name -> allowed values. */
  readonly labels: Readonly<Record<string, readonly string[]>>;
  /** Bucket upper bounds for histograms. */
  readonly buckets?: readonly number[];
}

/** Every family the SDK produces, by name without the prefix. */
export const SDK_METRICS = Object.freeze({
  operations_total: {
    type: 'counter',
    help: 'Session operations by operation and result.',
    labels: { op: OPERATIONS, result: OPERATION_RESULTS },
  },
  operation_duration_seconds: {
    type: 'histogram',
    help: 'Latency of session operations, by operation and by the tier that served them (near cache or Redis).',
    labels: { op: OPERATIONS, tier: TIERS },
    buckets: LATENCY_BUCKETS_SECONDS,
  },
  near_cache_requests_total: {
    type: 'counter',
    help: 'Near-cache lookups by result (hit or miss).',
    labels: { result: ['hit', 'miss'] },
  },
  near_cache_evictions_total: {
    type: 'counter',
    help: 'Entries dropped from the near cache by its bounds (capacity: maxEntries/maxBytes; expired: local TTL).',
    labels: { reason: EVICTION_REASONS },
  },
  near_cache_invalidations_total: {
    type: 'counter',
    help: 'Key invalidations received from Redis (CLIENT TRACKING).',
    labels: {},
  },
  near_cache_flushes_total: {
    type: 'counter',
    help: 'Times the near cache dropped all entries of a node or of the whole cache, by reason.',
    labels: { reason: FLUSH_REASONS },
  },
  near_cache_entries: {
    type: 'gauge',
    help: 'Entries in the near cache.',
    labels: {},
  },
  near_cache_bytes: {
    type: 'gauge',
    help: 'Bytes accounted to the near cache (encoded size plus overhead).',
    labels: {},
  },
  near_cache_tracking: {
    type: 'gauge',
    help: '1 when the near cache is kept correct by CLIENT TRACKING, 0 when it runs TTL-only.',
    labels: {},
  },
  invalidation_lag_seconds: {
    type: 'histogram',
    help: 'Time from a write being acknowledged to its invalidation arriving from Redis.',
    labels: {},
    buckets: LATENCY_BUCKETS_SECONDS,
  },
  errors_total: {
    type: 'counter',
    help: 'Errors by stable error code (SC_ERR_*); decode failures are counted here although reads return null.',
    labels: { code: ERROR_CODES },
  },
  redirections_total: {
    type: 'counter',
    help: 'MOVED and ASK redirections followed by the cluster client.',
    labels: { type: ['moved', 'ask'] },
  },
  reconnects_total: {
    type: 'counter',
    help: 'Reconnections of Redis connections, by kind (data or invalidation subscriber).',
    labels: { connection: ['data', 'subscriber'] },
  },
  reporter_dropped_reports_total: {
    type: 'counter',
    help: 'Report intervals the metrics reporter discarded: backlog (the sidecar was unreachable for longer than maxPendingReports intervals) or rejected (the sidecar answered 4xx).',
    labels: { reason: ['backlog', 'rejected'] },
  },
} satisfies Record<string, MetricSpec>);

export type SdkMetricName = keyof typeof SDK_METRICS;

/** Allowed `worker` of a report (and so of the sidecar's `worker` label). */
export const WORKER_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Allowed `instance` of a report. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Version of the reporter -> sidecar body. */
export const REPORT_FORMAT_VERSION = 1;

/**
 * Body of `POST /v1/report` (JSON). Counters and histograms carry deltas since the previous
 * report of the same `instance`; gauges carry the current value.
 */
export interface MetricsReport {
  /** Always {@link REPORT_FORMAT_VERSION}. */
  version: number;
  /** Low-cardinality name of the reporting process, e.g. `web-0` (`[A-Za-z0-9_.:-]{1,64}`). */
  worker: string;
  /** Random id of this process incarnation; a new one means the process restarted. */
  instance: string;
  /** Increases by one per report of this instance; a repeated or older seq is ignored. */
  seq: number;
  /** Wall-clock milliseconds when the report was taken. */
  timestamp: number;
  counters: Array<{ name: string; labels: Record<string, string>; value: number }>;
  gauges: Array<{ name: string; labels: Record<string, string>; value: number }>;
  /** `counts[i]` is the delta of observations in bucket i (non-cumulative), with one extra for +Inf. */
  histograms: Array<{ name: string; labels: Record<string, string>; counts: number[]; sum: number }>;
}
