/**
 * Grafana dashboards for sessioncache, as code (@grafana/grafana-foundation-sdk). The JSON
 * committed under deploy/grafana/dashboards/ (and copied for the Kubernetes ConfigMaps) is
 * generated from here by deploy/generate.ts; test/deploy/generated.test.ts fails when it is
 * stale, and test/deploy/promql.test.ts checks every query against the metric contract and the
 * sidecar's real /metrics output.
 *
 * Queries follow three rules: every rate() window is $__rate_interval; the SDK families are
 * summed over workers (they carry a `worker` label added by the sidecar); the Redis probe
 * families are first reduced with max/min by (node), because every sidecar (one per app pod)
 * probes every node and would otherwise count it once per pod.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and query uses the dashboard's datasource variable. */
const DS = { type: 'prometheus', uid: '${datasource}' };

/** Label filters of the overview dashboard's SDK families. */
const APP = 'namespace=~"$namespace",worker=~"$worker"';
/** Label filters of the Redis probe families. */
const REDIS = 'namespace=~"$namespace",node=~"$node"';

interface Query {
  readonly expr: string;
  readonly legend: string;
}

const q = (expr: string, legend: string): Query => ({ expr, legend });

/** A panel id counter per dashboard, so ids are stable and unique. */
class Ids {
  private next = 1;
  take(): number {
    return this.next++;
  }
}

function targets(queries: readonly Query[]): DataqueryBuilder[] {
  return queries.map((query, i) =>
    new DataqueryBuilder()
      .datasource(DS)
      .refId(String.fromCharCode(65 + i))
      .expr(query.expr)
      .legendFormat(query.legend)
      .range(),
  );
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly Query[];
  readonly width?: number;
  readonly height?: number;
  readonly min?: number;
  readonly max?: number;
}

function timeseriesPanel(ids: Ids, p: PanelSpec): timeseries.PanelBuilder {
  const b = new timeseries.PanelBuilder()
    .id(ids.take())
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .span(p.width ?? 12)
    .height(p.height ?? 8)
    .lineWidth(1)
    .fillOpacity(10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .targets(targets(p.queries));
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  return b;
}

interface StatSpec extends PanelSpec {
  /** Ascending thresholds: base colour, then [value, colour] steps. */
  readonly thresholds?: readonly [string, ...Array<[number, string]>];
  readonly mappings?: Record<string, { text: string; color: string }>;
}

function statPanel(ids: Ids, p: StatSpec): stat.PanelBuilder {
  const b = new stat.PanelBuilder()
    .id(ids.take())
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .span(p.width ?? 4)
    .height(p.height ?? 8)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .targets(targets(p.queries));
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  if (p.thresholds) {
    const [base, ...steps] = p.thresholds;
    b.thresholds(
      new ThresholdsConfigBuilder()
        .mode(ThresholdsMode.Absolute)
        .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]),
    );
  }
  if (p.mappings) b.mappings([{ type: MappingType.ValueToText, options: p.mappings }]);
  return b;
}

function row(ids: Ids, title: string): RowBuilder {
  return new RowBuilder(title).id(ids.take());
}

function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/** A multi-value label filter with "All" meaning any value, including an absent label. */
function labelVariable(name: string, label: string, selector: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DS)
    .query(`label_values(${selector}, ${name})`)
    .definition(`label_values(${selector}, ${name})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*');
}

function base(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['sessioncache'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser');
}

/** Ratio of two rates over all selected workers. */
const sumRate = (selector: string): string => `sum(rate(${selector}[$__rate_interval]))`;

const quantile = (q: number, family: string, by: string, selector: string): string =>
  `histogram_quantile(${q}, sum by (${by}) (rate(${family}_bucket{${selector}}[$__rate_interval])))`;

/** (a) Session cache overview: what the application sees. */
export function overviewDashboard(): Dashboard {
  const ids = new Ids();
  const gets = `sessioncache_operations_total{${APP},op="get"}`;
  const getsOk = `sessioncache_operations_total{${APP},op="get",result="ok"}`;
  const nearGets = `sessioncache_operation_duration_seconds_count{${APP},op="get",tier="near"}`;
  const redisGets = `sessioncache_operation_duration_seconds_count{${APP},op="get",tier="redis"}`;
  const nearHits = `sessioncache_near_cache_requests_total{${APP},result="hit"}`;
  const nearAll = `sessioncache_near_cache_requests_total{${APP}}`;
  const effective = `${sumRate(getsOk)} / ${sumRate(gets)}`;
  const near = `${sumRate(nearHits)} / ${sumRate(nearAll)}`;
  // A near-tier get always returns a session, so Redis-tier gets that found one are the ok gets
  // minus the near-tier ones.
  const redis = `(${sumRate(getsOk)} - ${sumRate(nearGets)}) / ${sumRate(redisGets)}`;
  const ratioThresholds: StatSpec['thresholds'] = ['red', [0.5, 'orange'], [0.7, 'green']];

  return base(
    'sessioncache-overview',
    'sessioncache / Overview',
    'Session cache as the application sees it: hit ratios per tier, operations, latency by operation and tier, errors, near cache and sidecars.',
  )
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('namespace', 'Namespace', 'sessioncache_sidecar_build_info'))
    .withVariable(labelVariable('worker', 'Worker', 'sessioncache_operations_total{namespace=~"$namespace"}'))
    .withVariable(labelVariable('op', 'Operation', 'sessioncache_operations_total{namespace=~"$namespace"}'))
    .withRow(row(ids, 'Hit ratio'))
    .withPanel(
      statPanel(ids, {
        title: 'Effective hit ratio',
        description: 'Gets that found a session, from the near cache or from Redis, over all gets.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        thresholds: ratioThresholds,
        queries: [q(effective, 'effective')],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Near-cache hit ratio',
        description: 'Near-cache lookups served from process memory over all near-cache lookups. Objective: 70% (alert SessioncacheNearCacheHitRatioLow).',
        unit: 'percentunit',
        min: 0,
        max: 1,
        thresholds: ratioThresholds,
        queries: [q(near, 'near')],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Redis hit ratio',
        description: 'Gets that missed the near cache and found their session in Redis, over all gets sent to Redis.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        thresholds: ratioThresholds,
        queries: [q(redis, 'redis')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Hit ratio by tier',
        description: 'Near, Redis and effective hit ratio over time. A drop of the near ratio after a deploy or scale event points at ingress affinity or invalidation.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        queries: [q(near, 'near'), q(redis, 'redis'), q(effective, 'effective')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Near-cache hit ratio per worker',
        description: 'One line per app process. One worker far below the others usually means its traffic is not pinned by session affinity.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        width: 24,
        queries: [
          q(
            `sum by (namespace, pod, worker) (rate(${nearHits}[$__rate_interval])) / sum by (namespace, pod, worker) (rate(${nearAll}[$__rate_interval]))`,
            '{{pod}} {{worker}}',
          ),
        ],
      }),
    )
    .withRow(row(ids, 'Operations and latency'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Operations per second by operation',
        description: 'Session operations per second, by public API operation.',
        unit: 'ops',
        queries: [q(`sum by (op) (rate(sessioncache_operations_total{${APP},op=~"$op"}[$__rate_interval]))`, '{{op}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Operations per second by result',
        description: 'ok, not_found (missing, expired or revoked), conflict (expectedVersion mismatch), rejected (limits, bad ids) and error.',
        unit: 'ops',
        queries: [q(`sum by (op, result) (rate(sessioncache_operations_total{${APP},op=~"$op",result!="ok"}[$__rate_interval]))`, '{{op}} {{result}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Latency by operation and tier (p50 / p95 / p99)',
        description: 'Quantiles of the SDK operation histogram, by operation and by the tier that served it (near cache or Redis).',
        unit: 's',
        width: 24,
        height: 10,
        queries: [0.5, 0.95, 0.99].map((quant) =>
          q(
            quantile(quant, 'sessioncache_operation_duration_seconds', 'op, tier, le', `${APP},op=~"$op"`),
            `p${Math.round(quant * 100)} {{op}} {{tier}}`,
          ),
        ),
      }),
    )
    .withRow(row(ids, 'Errors'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Errors per second by code',
        description: 'SDK errors by stable code (SC_ERR_*); decode failures are counted although reads return null.',
        unit: 'ops',
        queries: [q(`sum by (code) (rate(sessioncache_errors_total{${APP}}[$__rate_interval]))`, '{{code}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Redirections and reconnects',
        description: 'MOVED/ASK redirections followed by the cluster client (slot moves, failovers) and reconnections of data and invalidation connections.',
        unit: 'ops',
        queries: [
          q(`sum by (type) (rate(sessioncache_redirections_total{${APP}}[$__rate_interval]))`, 'redirect {{type}}'),
          q(`sum by (connection) (rate(sessioncache_reconnects_total{${APP}}[$__rate_interval]))`, 'reconnect {{connection}}'),
        ],
      }),
    )
    .withRow(row(ids, 'Near cache'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Near-cache entries',
        description: 'Entries held in process memory, per worker.',
        unit: 'short',
        width: 8,
        queries: [q(`sum by (pod, worker) (sessioncache_near_cache_entries{${APP}})`, '{{pod}} {{worker}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Near-cache bytes',
        description: 'Bytes accounted to the near cache (encoded size plus overhead), per worker.',
        unit: 'bytes',
        width: 8,
        queries: [q(`sum by (pod, worker) (sessioncache_near_cache_bytes{${APP}})`, '{{pod}} {{worker}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Near-cache evictions',
        description: 'Entries dropped by the near cache bounds: capacity (maxEntries/maxBytes) or expired (local TTL).',
        unit: 'ops',
        width: 8,
        queries: [q(`sum by (reason) (rate(sessioncache_near_cache_evictions_total{${APP}}[$__rate_interval]))`, '{{reason}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Invalidations and flushes',
        description: 'Key invalidations received through CLIENT TRACKING, and whole-cache or per-node flushes by reason (alert SessioncacheNearCacheFlushStorm).',
        unit: 'ops',
        width: 8,
        queries: [
          q(`sum(rate(sessioncache_near_cache_invalidations_total{${APP}}[$__rate_interval]))`, 'invalidations'),
          q(`sum by (reason) (rate(sessioncache_near_cache_flushes_total{${APP}}[$__rate_interval]))`, 'flush {{reason}}'),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Invalidation lag (p50 / p99)',
        description: 'Time from a write being acknowledged to its invalidation arriving from Redis: how long another replica may still serve the old value.',
        unit: 's',
        width: 8,
        queries: [
          q(quantile(0.5, 'sessioncache_invalidation_lag_seconds', 'le', APP), 'p50'),
          q(quantile(0.99, 'sessioncache_invalidation_lag_seconds', 'le', APP), 'p99'),
        ],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Workers without invalidation',
        description: 'Workers whose near cache runs TTL-only (no CLIENT TRACKING): revoked sessions stay readable there until the local TTL ends.',
        unit: 'short',
        width: 8,
        height: 8,
        thresholds: ['green', [1, 'red']],
        queries: [q(`count(sessioncache_near_cache_tracking{${APP}} == 0) or vector(0)`, 'untracked')],
      }),
    )
    .withRow(row(ids, 'Sidecars'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Reports per second',
        description: 'SDK reports received by the sidecars, accepted or rejected (alert SessioncacheSidecarRejectingReports).',
        unit: 'reqps',
        width: 8,
        queries: [q(`sum by (result) (rate(sessioncache_sidecar_reports_total{namespace=~"$namespace"}[$__rate_interval]))`, '{{result}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Time since last report',
        description: 'Seconds since each sidecar accepted an SDK report (alert SessioncacheSidecarNoReports at 2 minutes).',
        unit: 's',
        width: 8,
        queries: [q('time() - max by (pod, instance) (sessioncache_sidecar_last_report_timestamp_seconds{namespace=~"$namespace"})', '{{pod}} {{instance}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Reporting processes and sidecar versions',
        description: 'App processes reporting to each sidecar, and sidecars per version.',
        unit: 'short',
        width: 8,
        queries: [
          q('sum by (pod) (sessioncache_sidecar_reporters{namespace=~"$namespace"})', 'reporters {{pod}}'),
          q('count by (version) (sessioncache_sidecar_build_info{namespace=~"$namespace"})', 'sidecars v{{version}}'),
        ],
      }),
    )
    .build();
}

/** (b) Redis Cluster, as probed by the sidecars. */
export function redisClusterDashboard(): Dashboard {
  const ids = new Ids();
  const perNode = (family: string, extra = ''): string => `max by (node) (${family}{${REDIS}${extra}})`;
  const perNodeRate = (family: string): string => `max by (node) (rate(${family}{${REDIS}}[$__rate_interval]))`;
  const hits = `sum(${perNodeRate('sessioncache_redis_keyspace_hits_total')})`;
  const misses = `sum(${perNodeRate('sessioncache_redis_keyspace_misses_total')})`;

  return base(
    'sessioncache-redis-cluster',
    'sessioncache / Redis Cluster',
    'Redis Cluster health as probed by the sessioncache sidecars: state, slots, nodes, latency, memory, keyspace hit ratio and evictions.',
  )
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('namespace', 'Namespace', 'sessioncache_redis_up'))
    .withVariable(labelVariable('node', 'Node', 'sessioncache_redis_up{namespace=~"$namespace"}'))
    .withRow(row(ids, 'Cluster'))
    .withPanel(
      statPanel(ids, {
        title: 'Cluster state',
        description: 'cluster_state as reported by the node in the worst state (alert SessioncacheRedisClusterStateNotOk).',
        unit: 'none',
        thresholds: ['red', [1, 'green']],
        mappings: { '0': { text: 'FAIL', color: 'red' }, '1': { text: 'OK', color: 'green' } },
        queries: [q(`min(sessioncache_redis_cluster_state{${REDIS}})`, 'state')],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Slots ok',
        description: 'Slots served, in the view of the node that sees fewest (16384 when healthy).',
        unit: 'none',
        thresholds: ['red', [16384, 'green']],
        queries: [q(`min(sessioncache_redis_cluster_slots{${REDIS},state="ok"})`, 'ok')],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Slots failing',
        description: 'Slots in fail (and pfail: suspected by one node) state, in the view of the node that sees most (alert SessioncacheRedisClusterSlotsFailing).',
        unit: 'none',
        thresholds: ['green', [1, 'red']],
        queries: [
          q(`max(sessioncache_redis_cluster_slots{${REDIS},state="fail"})`, 'fail'),
          q(`max(sessioncache_redis_cluster_slots{${REDIS},state="pfail"})`, 'pfail'),
        ],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Nodes up / known',
        description: 'Nodes at least one sidecar reaches, and the nodes the cluster knows of (alert SessioncacheRedisNodeDown).',
        unit: 'none',
        queries: [
          q(`count(${perNode('sessioncache_redis_up')} == 1) or vector(0)`, 'up'),
          q(`max(sessioncache_redis_cluster_known_nodes{${REDIS}})`, 'known'),
        ],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Masters',
        description: 'Nodes currently in the master role.',
        unit: 'none',
        queries: [q(`count(${perNode('sessioncache_redis_role', ',role="master"')} == 1) or vector(0)`, 'masters')],
      }),
    )
    .withPanel(
      statPanel(ids, {
        title: 'Keyspace hit ratio',
        description: 'Server-side keyspace hits over hits plus misses, summed over all nodes.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        queries: [q(`${hits} / (${hits} + ${misses})`, 'hit ratio')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Node up',
        description: '1 while at least one sidecar reaches the node.',
        unit: 'none',
        min: 0,
        max: 1,
        queries: [q(perNode('sessioncache_redis_up'), '{{node}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Role per node',
        description: 'Which node holds the master role; a change is a failover.',
        unit: 'none',
        queries: [q(`max by (node, role) (sessioncache_redis_role{${REDIS}}) == 1`, '{{node}} {{role}}')],
      }),
    )
    .withRow(row(ids, 'Latency'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'PING latency per node (p50 / p99)',
        description: 'Round trip of the sidecar probe PING to each node: network plus server latency.',
        unit: 's',
        width: 24,
        queries: [
          q(quantile(0.5, 'sessioncache_redis_ping_duration_seconds', 'node, le', REDIS), 'p50 {{node}}'),
          q(quantile(0.99, 'sessioncache_redis_ping_duration_seconds', 'node, le', REDIS), 'p99 {{node}}'),
        ],
      }),
    )
    .withRow(row(ids, 'Memory, keyspace and clients'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Memory used per node',
        description: 'used_memory of each node; evictions start when it reaches maxmemory.',
        unit: 'bytes',
        queries: [q(perNode('sessioncache_redis_memory_used_bytes'), '{{node}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Keyspace hit ratio per node',
        description: 'Server-side hits over hits plus misses for each node.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        queries: [
          q(
            `${perNodeRate('sessioncache_redis_keyspace_hits_total')} / (${perNodeRate('sessioncache_redis_keyspace_hits_total')} + ${perNodeRate('sessioncache_redis_keyspace_misses_total')})`,
            '{{node}}',
          ),
        ],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Evicted keys per second',
        description: 'Keys evicted under maxmemory: for a session store, users logged out early (alert SessioncacheRedisEvictingSessions).',
        unit: 'ops',
        queries: [q(perNodeRate('sessioncache_redis_evicted_keys_total'), '{{node}}')],
      }),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Connected and tracking clients',
        description: 'Client connections per node, and those with CLIENT TRACKING on (the near-cache invalidation subscribers).',
        unit: 'short',
        queries: [
          q(perNode('sessioncache_redis_connected_clients'), 'connected {{node}}'),
          q(perNode('sessioncache_redis_tracking_clients'), 'tracking {{node}}'),
        ],
      }),
    )
    .build();
}

/** Every dashboard, by file name. */
export function dashboards(): ReadonlyMap<string, Dashboard> {
  return new Map([
    ['sessioncache-overview.json', overviewDashboard()],
    ['sessioncache-redis-cluster.json', redisClusterDashboard()],
  ]);
}
