import { METRIC_PREFIX, SDK_METRICS } from '@sessioncache/sdk';
import type { FamilyTypes } from './promql';

/**
 * The metric contract the dashboards and rules may build on, before the real `/metrics`
 * check: the SDK families from the SDK's own catalog (exposed by the sidecar with the prefix
 * and a `worker` label) and the sidecar's probe and self families as agreed with the sidecar.
 */
export const SIDECAR_METRICS: Readonly<Record<string, 'counter' | 'gauge' | 'histogram'>> = Object.freeze({
  sessioncache_redis_up: 'gauge',
  sessioncache_redis_ping_duration_seconds: 'histogram',
  sessioncache_redis_keyspace_hits_total: 'counter',
  sessioncache_redis_keyspace_misses_total: 'counter',
  sessioncache_redis_evicted_keys_total: 'counter',
  sessioncache_redis_memory_used_bytes: 'gauge',
  sessioncache_redis_connected_clients: 'gauge',
  sessioncache_redis_tracking_clients: 'gauge',
  sessioncache_redis_role: 'gauge',
  sessioncache_redis_cluster_state: 'gauge',
  sessioncache_redis_cluster_slots: 'gauge',
  sessioncache_redis_cluster_known_nodes: 'gauge',
  sessioncache_sidecar_reports_total: 'counter',
  sessioncache_sidecar_reporters: 'gauge',
  sessioncache_sidecar_last_report_timestamp_seconds: 'gauge',
  sessioncache_sidecar_build_info: 'gauge',
});

/** Labels of the sidecar families besides the target's own (namespace, pod, instance, job). */
const SIDECAR_LABELS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  sessioncache_redis_role: ['node', 'role'],
  sessioncache_redis_cluster_slots: ['node', 'state'],
  sessioncache_sidecar_reports_total: ['result'],
  sessioncache_sidecar_reporters: [],
  sessioncache_sidecar_last_report_timestamp_seconds: [],
  sessioncache_sidecar_build_info: ['version'],
});

/** Labels Prometheus attaches to every scraped series (Kubernetes service discovery, compose). */
export const TARGET_LABELS = Object.freeze(['namespace', 'pod', 'instance', 'job']);

/** Label names each contract family carries, by full exposed name (`le` for histograms). */
export function contractLabels(): ReadonlyMap<string, ReadonlySet<string>> {
  const out = new Map<string, ReadonlySet<string>>();
  for (const [name, spec] of Object.entries(SDK_METRICS)) {
    out.set(`${METRIC_PREFIX}${name}`, new Set([...Object.keys(spec.labels), 'worker', ...(spec.type === 'histogram' ? ['le'] : [])]));
  }
  for (const [name, type] of Object.entries(SIDECAR_METRICS)) {
    out.set(name, new Set([...(SIDECAR_LABELS[name] ?? ['node']), ...(type === 'histogram' ? ['le'] : [])]));
  }
  return out;
}

/** Every family of the contract, by full exposed name. */
export function contractFamilies(): FamilyTypes {
  const families = new Map<string, 'counter' | 'gauge' | 'histogram'>();
  for (const [name, spec] of Object.entries(SDK_METRICS)) families.set(`${METRIC_PREFIX}${name}`, spec.type);
  for (const [name, type] of Object.entries(SIDECAR_METRICS)) families.set(name, type);
  return families;
}
