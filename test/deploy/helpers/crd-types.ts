/**
 * Types of the custom resources the manifests use, for the strict field check in k8s.test.ts
 * (kubernetes-models has no models for them and no prometheus-operator or gateway-api add-on is
 * installed). Only the fields this project sets or may set are declared, with the exact names of
 * the upstream CRDs (monitoring.coreos.com/v1 of prometheus-operator, gateway.networking.k8s.io/v1
 * of Gateway API, gateway.envoyproxy.io/v1alpha1 of Envoy Gateway), so a misspelt field fails
 * the type check instead of being silently dropped by the API server.
 */
import type { IIoK8sApimachineryPkgApisMetaV1LabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector' with { 'resolution-mode': 'import' };
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta' with { 'resolution-mode': 'import' };

type Duration = string;

export interface IServiceMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec: {
    selector: IIoK8sApimachineryPkgApisMetaV1LabelSelector;
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    jobLabel?: string;
    podTargetLabels?: string[];
    endpoints: Array<{
      port?: string;
      targetPort?: number | string;
      path?: string;
      scheme?: 'http' | 'https';
      interval?: Duration;
      scrapeTimeout?: Duration;
      honorLabels?: boolean;
      relabelings?: Array<Record<string, unknown>>;
      metricRelabelings?: Array<Record<string, unknown>>;
    }>;
  };
}

export interface IPrometheusRule {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PrometheusRule';
  metadata: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec: {
    groups: Array<{
      name: string;
      interval?: Duration;
      limit?: number;
      rules: Array<{
        record?: string;
        alert?: string;
        expr: string | number;
        for?: Duration;
        keep_firing_for?: Duration;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
      }>;
    }>;
  };
}

interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface IHTTPRoute {
  apiVersion: 'gateway.networking.k8s.io/v1';
  kind: 'HTTPRoute';
  metadata: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec: {
    parentRefs?: ParentReference[];
    hostnames?: string[];
    rules?: Array<{
      name?: string;
      matches?: Array<{
        path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
        headers?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
        queryParams?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
        method?: string;
      }>;
      filters?: Array<Record<string, unknown>>;
      backendRefs?: Array<{ group?: string; kind?: string; name: string; namespace?: string; port?: number; weight?: number }>;
      timeouts?: { request?: Duration; backendRequest?: Duration };
    }>;
  };
}

export interface IBackendTrafficPolicy {
  apiVersion: 'gateway.envoyproxy.io/v1alpha1';
  kind: 'BackendTrafficPolicy';
  metadata: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec: {
    targetRefs?: Array<{ group: string; kind: string; name: string; sectionName?: string }>;
    loadBalancer?: {
      type: 'ConsistentHash' | 'LeastRequest' | 'Random' | 'RoundRobin';
      consistentHash?: {
        type: 'SourceIP' | 'Header' | 'Cookie';
        header?: { name: string };
        cookie?: { name: string; ttl?: Duration; attributes?: Record<string, string> };
        tableSize?: number;
      };
      slowStart?: { window: Duration };
    };
  };
}

/** Module and type name per custom kind, as imported by the generated type-check file. */
export const CRD_TYPES: Readonly<Record<string, string>> = Object.freeze({
  'monitoring.coreos.com/v1 ServiceMonitor': 'IServiceMonitor',
  'monitoring.coreos.com/v1 PrometheusRule': 'IPrometheusRule',
  'gateway.networking.k8s.io/v1 HTTPRoute': 'IHTTPRoute',
  'gateway.envoyproxy.io/v1alpha1 BackendTrafficPolicy': 'IBackendTrafficPolicy',
});
