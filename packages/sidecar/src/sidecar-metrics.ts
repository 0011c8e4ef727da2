import { LATENCY_BUCKETS_SECONDS, METRIC_PREFIX } from '@sessioncache/sdk';
import { registerSessionCacheMetrics } from '@sessioncache/sdk/prometheus';
import * as promClient from 'prom-client';
import type { NodeStatus } from './cluster-probe';
import type { ReportStore } from './report-store';

/**
 * The sidecar's registry: the SDK families from the report store (with a `worker` label), the
 * Redis node families from the probe, and the sidecar's own. Its own Registry, never the global
 * one, and no prom-client default metrics (three of them fail `promtool check metrics`).
 * Node families are collectors over the probe's last results, so a node that left the
 * topology or is down loses its series at once instead of showing stale values.
 */

/** Names of the families the sidecar adds to the SDK's, for docs and tests. */
export const SIDECAR_FAMILIES = Object.freeze({
  redisUp: `${METRIC_PREFIX}redis_up`,
  redisPing: `${METRIC_PREFIX}redis_ping_duration_seconds`,
  keyspaceHits: `${METRIC_PREFIX}redis_keyspace_hits_total`,
  keyspaceMisses: `${METRIC_PREFIX}redis_keyspace_misses_total`,
  evictedKeys: `${METRIC_PREFIX}redis_evicted_keys_total`,
  memoryUsed: `${METRIC_PREFIX}redis_memory_used_bytes`,
  connectedClients: `${METRIC_PREFIX}redis_connected_clients`,
  trackingClients: `${METRIC_PREFIX}redis_tracking_clients`,
  role: `${METRIC_PREFIX}redis_role`,
  clusterState: `${METRIC_PREFIX}redis_cluster_state`,
  clusterSlots: `${METRIC_PREFIX}redis_cluster_slots`,
  clusterKnownNodes: `${METRIC_PREFIX}redis_cluster_known_nodes`,
  reports: `${METRIC_PREFIX}sidecar_reports_total`,
  reporters: `${METRIC_PREFIX}sidecar_reporters`,
  workers: `${METRIC_PREFIX}sidecar_workers`,
  lastReport: `${METRIC_PREFIX}sidecar_last_report_timestamp_seconds`,
  buildInfo: `${METRIC_PREFIX}sidecar_build_info`,
});

/** Outcomes counted by `sessioncache_sidecar_reports_total{result}`. */
export type ReportResult = 'accepted' | 'duplicate' | 'rejected';

/** Where the metrics read their values. */
export interface SidecarMetricsSources {
  store: ReportStore;
  /** Status of the nodes of the current topology. */
  nodes: () => readonly NodeStatus[];
  version: string;
}

/** The sidecar's registry and the handles the app updates. */
export class SidecarMetrics {
  readonly registry = new promClient.Registry();
  readonly #reports: promClient.Counter<'result'>;
  readonly #ping: promClient.Histogram<'node'>;

  constructor(src: SidecarMetricsSources) {
    const registers = [this.registry];
    registerSessionCacheMetrics(this.registry, src.store, { promClient, extraLabelNames: ['worker'] });

    const upNodes = (): NodeStatus[] => src.nodes().filter((n) => n.up);
    const nodeGauge = (name: string, help: string, pick: (n: NodeStatus) => number | undefined, upOnly = true) =>
      new promClient.Gauge({
        name,
        help,
        labelNames: ['node'],
        registers,
        collect(this: promClient.Gauge<'node'>) {
          this.reset();
          for (const n of upOnly ? upNodes() : src.nodes()) {
            const v = pick(n);
            if (v !== undefined) this.set({ node: n.node }, v);
          }
        },
      });
    // Mirrors of the server's own counters: exposed as counters so rate() works; when a node
    // restarts its counter restarts too, which Prometheus handles as a reset.
    const nodeCounter = (name: string, help: string, pick: (n: NodeStatus) => number | undefined) =>
      new promClient.Counter({
        name,
        help,
        labelNames: ['node'],
        registers,
        collect(this: promClient.Counter<'node'>) {
          this.reset();
          for (const n of upNodes()) {
            const v = pick(n);
            if (v !== undefined && v >= 0) this.inc({ node: n.node }, v);
          }
        },
      });

    nodeGauge(SIDECAR_FAMILIES.redisUp, '1 when the last probe of the node (PING, INFO, CLUSTER INFO) succeeded, 0 otherwise.', (n) => (n.up ? 1 : 0), false);
    this.#ping = new promClient.Histogram({
      name: SIDECAR_FAMILIES.redisPing,
      help: 'Round trip of the PING the sidecar sends to each node every probe interval.',
      labelNames: ['node'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    nodeCounter(SIDECAR_FAMILIES.keyspaceHits, 'Successful key lookups on the node (INFO keyspace_hits).', (n) => n.info?.keyspaceHits);
    nodeCounter(SIDECAR_FAMILIES.keyspaceMisses, 'Failed key lookups on the node (INFO keyspace_misses).', (n) => n.info?.keyspaceMisses);
    nodeCounter(SIDECAR_FAMILIES.evictedKeys, 'Keys evicted by maxmemory on the node (INFO evicted_keys); for sessions, forced logouts.', (n) => n.info?.evictedKeys);
    nodeGauge(SIDECAR_FAMILIES.memoryUsed, 'Memory used by the node (INFO used_memory).', (n) => n.info?.usedMemoryBytes);
    nodeGauge(SIDECAR_FAMILIES.connectedClients, 'Client connections to the node (INFO connected_clients), the probe included.', (n) => n.info?.connectedClients);
    nodeGauge(SIDECAR_FAMILIES.trackingClients, 'Clients with CLIENT TRACKING on (INFO tracking_clients): near caches kept correct by the node.', (n) => n.info?.trackingClients);
    new promClient.Gauge({
      name: SIDECAR_FAMILIES.role,
      help: 'Role of the node: one series with value 1, role="master" or role="replica".',
      labelNames: ['node', 'role'],
      registers,
      collect(this: promClient.Gauge<'node' | 'role'>) {
        this.reset();
        for (const n of upNodes()) if (n.info?.role) this.set({ node: n.node, role: n.info.role }, 1);
      },
    });
    nodeGauge(SIDECAR_FAMILIES.clusterState, '1 when the node reports cluster_state:ok, 0 otherwise.', (n) => (n.cluster ? (n.cluster.state === 'ok' ? 1 : 0) : undefined));
    new promClient.Gauge({
      name: SIDECAR_FAMILIES.clusterSlots,
      help: 'Hash slots by state as the node sees them (CLUSTER INFO cluster_slots_*); healthy: assigned = ok = 16384.',
      labelNames: ['node', 'state'],
      registers,
      collect(this: promClient.Gauge<'node' | 'state'>) {
        this.reset();
        for (const n of upNodes()) {
          const c = n.cluster;
          if (!c) continue;
          const states = { assigned: c.slotsAssigned, ok: c.slotsOk, pfail: c.slotsPfail, fail: c.slotsFail };
          for (const [state, v] of Object.entries(states)) if (v !== undefined) this.set({ node: n.node, state }, v);
        }
      },
    });
    nodeGauge(SIDECAR_FAMILIES.clusterKnownNodes, 'Nodes the node knows in the cluster, itself included (CLUSTER INFO cluster_known_nodes).', (n) => n.cluster?.knownNodes);

    this.#reports = new promClient.Counter({
      name: SIDECAR_FAMILIES.reports,
      help: 'Reports received from SDKs: accepted (applied), duplicate (a re-sent seq, acknowledged, not applied again), rejected (4xx).',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['accepted', 'duplicate', 'rejected'] as const) this.#reports.inc({ result }, 0);
    new promClient.Gauge({
      name: SIDECAR_FAMILIES.reporters,
      help: 'SDK instances (processes) that reported within the reporter expiry.',
      registers,
      collect(this: promClient.Gauge) {
        this.set(src.store.liveReporters());
      },
    });
    new promClient.Gauge({
      name: SIDECAR_FAMILIES.workers,
      help: 'Workers whose SDK series the sidecar keeps (live or not).',
      registers,
      collect(this: promClient.Gauge) {
        this.set(src.store.workerCount());
      },
    });
    new promClient.Gauge({
      name: SIDECAR_FAMILIES.lastReport,
      help: 'Unix time of the last report received (0 before the first).',
      registers,
      collect(this: promClient.Gauge) {
        this.set((src.store.lastReportAt ?? 0) / 1000);
      },
    });
    new promClient.Gauge({
      name: SIDECAR_FAMILIES.buildInfo,
      help: 'Always 1; the sidecar version in the version label.',
      labelNames: ['version'],
      registers,
    }).set({ version: src.version }, 1);
  }

  /** Counts one report by outcome. */
  countReport(result: ReportResult): void {
    this.#reports.inc({ result });
  }

  /** Records a PING round trip of a node. */
  observePing(node: string, seconds: number): void {
    this.#ping.observe({ node }, seconds);
  }

  /** Drops the ping histogram of a node that left the topology. */
  forgetNode(node: string): void {
    this.#ping.remove({ node });
  }
}
