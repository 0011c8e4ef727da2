import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { bytes, type K8sObject, kustomize, kustomizeVersion, podTemplate, selects, typecheck, validateSchemas } from './helpers/k8s';
import { loadRuleGroups, ROOT } from './helpers/sources';

// Offline checks of k8s/: each kustomization is rendered by the real kustomize, every rendered
// object is validated against the Kubernetes schemas (kubernetes-models) and type-checked for
// unknown fields, and the objects are checked against each other the way the cluster would
// wire them (selectors, names, ports, references).

const KUSTOMIZATIONS = ['k8s/base', 'k8s/overlays/dev', 'k8s/overlays/prod', 'k8s/examples/gateway-affinity'] as const;

/** Objects expected to come from outside the manifests (created by the operator). */
const EXTERNAL: Readonly<Record<string, readonly string[]>> = {
  'k8s/base': ['Secret/sessioncache-example'],
  'k8s/overlays/prod': ['Secret/sessioncache-example'],
  'k8s/overlays/dev': [],
};

const rendered = new Map<string, K8sObject[]>();
beforeAll(() => {
  for (const k of KUSTOMIZATIONS) rendered.set(k, kustomize(k));
});

const find = (objs: K8sObject[], kind: string, name?: string): K8sObject[] =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const one = (objs: K8sObject[], kind: string, name: string): K8sObject => {
  const found = find(objs, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length}`);
  return found[0]!;
};

describe('Kubernetes manifests (k8s/)', () => {
  it('render with kustomize v5 (kubectl kustomize)', () => {
    expect(kustomizeVersion()).toMatch(/^v5\./);
    for (const k of KUSTOMIZATIONS) expect(rendered.get(k)!.length).toBeGreaterThan(1);
  });

  it('source YAML files parse without errors or duplicate keys', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(e.name)) files.push(p);
      }
    };
    walk(path.join(ROOT, 'k8s'));
    expect(files.length).toBeGreaterThan(10);
    const problems = files.flatMap((f) =>
      parseAllDocuments(fs.readFileSync(f, 'utf8')).flatMap((d) => d.errors.map((e) => `${path.relative(ROOT, f)}: ${e.message}`)),
    );
    expect(problems).toEqual([]);
  });

  it('every rendered object passes the Kubernetes JSON schemas (kubernetes-models)', () => {
    const all = KUSTOMIZATIONS.flatMap((k) => rendered.get(k)!.map((obj) => ({ label: `${k} ${obj.kind}/${obj.metadata.name}`, obj })));
    // Canary: the validator must reject a Service whose port is not a number.
    const canary = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'canary' }, spec: { ports: [{ port: 'http' }] } };
    const results = validateSchemas([...all.map((a) => a.obj), canary]);
    expect(results.at(-1)!.status).toBe('invalid');
    const invalid = all.flatMap((a, i) => (results[i]!.status === 'invalid' ? [`${a.label}: ${results[i]!.errors.join('; ')}`] : []));
    expect(invalid).toEqual([]);
    const noSchema = all.filter((_a, i) => results[i]!.status === 'no-schema').map((a) => `${a.obj.apiVersion} ${a.obj.kind}`);
    // Only the custom resources lack a built-in schema; they are covered by the type check.
    expect([...new Set(noSchema)].sort()).toEqual([
      'gateway.envoyproxy.io/v1alpha1 BackendTrafficPolicy',
      'gateway.networking.k8s.io/v1 HTTPRoute',
      'monitoring.coreos.com/v1 PrometheusRule',
      'monitoring.coreos.com/v1 ServiceMonitor',
    ]);
  });

  it('no rendered object has a field its API does not define (strict type check, custom resources included)', () => {
    const all = KUSTOMIZATIONS.flatMap((k) => rendered.get(k)!.map((obj) => ({ label: `${k} ${obj.kind}/${obj.metadata.name}`, obj })));
    const deployment = one(rendered.get('k8s/base')!, 'Deployment', 'sessioncache-example');
    const canary = structuredClone(deployment) as K8sObject & { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    canary.metadata.name = 'canary';
    canary.spec.template.spec.containers[0]!.imagePullPolicyy = 'Always';
    const { untyped, diagnostics } = typecheck([...all, { label: 'canary', obj: canary }]);
    expect(untyped).toEqual([]);
    const canaryErrors = diagnostics.filter((d) => d.startsWith('canary:'));
    expect(canaryErrors.join('\n')).toContain('imagePullPolicyy');
    expect(diagnostics.filter((d) => !d.startsWith('canary:'))).toEqual([]);
  }, 240_000);

  describe.each(['k8s/base', 'k8s/overlays/dev', 'k8s/overlays/prod'])('%s', (k) => {
    const objs = (): K8sObject[] => rendered.get(k)!;
    const workloads = (): K8sObject[] => objs().filter((o) => podTemplate(o));

    it('every Service, PDB and NetworkPolicy selector selects pods of a workload it renders', () => {
      const templates = workloads().map((w) => ({ name: `${w.kind}/${w.metadata.name}`, labels: podTemplate(w)!.metadata?.labels }));
      const problems: string[] = [];
      const mustSelect = (what: string, selector: Record<string, string> | undefined): void => {
        if (!templates.some((t) => selects(selector, t.labels))) problems.push(`${what} selects no pod (${JSON.stringify(selector)})`);
      };
      for (const s of find(objs(), 'Service')) mustSelect(`Service/${s.metadata.name}`, (s.spec as { selector?: Record<string, string> }).selector);
      for (const p of find(objs(), 'PodDisruptionBudget')) {
        mustSelect(`PDB/${p.metadata.name}`, (p.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels);
      }
      for (const n of find(objs(), 'NetworkPolicy')) {
        const spec = n.spec as {
          podSelector: { matchLabels: Record<string, string> };
          ingress: Array<{ from?: Array<{ podSelector?: { matchLabels: Record<string, string> } }> }>;
        };
        mustSelect(`NetworkPolicy/${n.metadata.name}`, spec.podSelector.matchLabels);
        for (const rule of spec.ingress) {
          for (const peer of rule.from ?? []) {
            if (peer.podSelector) mustSelect(`NetworkPolicy/${n.metadata.name} ingress peer`, peer.podSelector.matchLabels);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('every ConfigMap and Secret a pod uses is rendered (or documented as created by the operator)', () => {
      const have = new Set(objs().map((o) => `${o.kind}/${o.metadata.name}`));
      for (const ext of EXTERNAL[k] ?? []) have.add(ext);
      const missing: string[] = [];
      for (const w of workloads()) {
        const spec = podTemplate(w)!.spec;
        for (const v of spec.volumes ?? []) {
          if (v.configMap && !have.has(`ConfigMap/${v.configMap.name}`)) missing.push(`${w.metadata.name}: ConfigMap/${v.configMap.name}`);
          if (v.secret && !have.has(`Secret/${v.secret.secretName}`)) missing.push(`${w.metadata.name}: Secret/${v.secret.secretName}`);
        }
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          for (const e of c.env ?? []) {
            const cm = e.valueFrom?.configMapKeyRef;
            if (cm && !have.has(`ConfigMap/${cm.name}`)) missing.push(`${c.name}: ConfigMap/${cm.name}`);
            const sec = e.valueFrom?.secretKeyRef;
            if (sec && !have.has(`Secret/${sec.name}`)) missing.push(`${c.name}: Secret/${sec.name}`);
          }
        }
      }
      expect(missing).toEqual([]);
      // Only objects that are really external are listed as such.
      for (const ext of EXTERNAL[k] ?? []) expect(objs().some((o) => `${o.kind}/${o.metadata.name}` === ext)).toBe(false);
    });

    it('Services and probes refer to container ports that exist', () => {
      const problems: string[] = [];
      for (const w of workloads()) {
        const spec = podTemplate(w)!.spec;
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          const names = new Set((c.ports ?? []).map((p) => p.name));
          for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
            const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
            if (typeof port === 'string' && !names.has(port)) problems.push(`${c.name} probe port ${port}`);
          }
        }
      }
      for (const s of find(objs(), 'Service')) {
        const spec = s.spec as { selector: Record<string, string>; ports: Array<{ targetPort?: string | number; name: string }> };
        const pods = workloads().filter((w) => selects(spec.selector, podTemplate(w)!.metadata?.labels));
        const portNames = new Set(
          pods.flatMap((w) => [...podTemplate(w)!.spec.containers, ...(podTemplate(w)!.spec.initContainers ?? [])].flatMap((c) => (c.ports ?? []).map((p) => p.name))),
        );
        for (const p of spec.ports) {
          if (typeof p.targetPort === 'string' && !portNames.has(p.targetPort)) problems.push(`Service/${s.metadata.name} targetPort ${p.targetPort}`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('Redis Cluster: Parallel StatefulSet behind a headless Service that publishes not-ready addresses, with both ports', () => {
      const sts = one(objs(), 'StatefulSet', 'redis-cluster');
      const spec = sts.spec as { serviceName: string; podManagementPolicy: string; replicas: number; volumeClaimTemplates: unknown[] };
      expect(spec.podManagementPolicy).toBe('Parallel');
      expect(spec.replicas).toBeGreaterThanOrEqual(6);
      expect(spec.volumeClaimTemplates.length).toBe(1);
      const headless = one(objs(), 'Service', spec.serviceName).spec as { clusterIP: string; publishNotReadyAddresses: boolean; ports: Array<{ port: number }> };
      expect(headless.clusterIP).toBe('None');
      expect(headless.publishNotReadyAddresses).toBe(true);
      expect(headless.ports.map((p) => p.port).sort()).toEqual([16379, 6379]);
    });

    it('Redis Cluster: probes, non-root, zone spread, anti-affinity and maxmemory under the memory limit', () => {
      const pod = podTemplate(one(objs(), 'StatefulSet', 'redis-cluster'))!.spec;
      const redis = pod.containers[0]!;
      expect(redis.readinessProbe?.exec?.command).toEqual(['/scripts/readiness.sh']);
      expect(redis.livenessProbe?.exec?.command).toEqual(['/scripts/liveness.sh']);
      expect(redis.startupProbe).toBeDefined();
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.topologySpreadConstraints?.map((t) => t.topologyKey)).toContain('topology.kubernetes.io/zone');
      const anti = (pod.affinity as { podAntiAffinity: Record<string, Array<{ topologyKey?: string; podAffinityTerm?: { topologyKey: string } }>> }).podAntiAffinity;
      const keys = Object.values(anti).flat().map((t) => t.topologyKey ?? t.podAffinityTerm?.topologyKey);
      expect(keys).toContain('kubernetes.io/hostname');
      if (k !== 'k8s/overlays/dev') expect(Object.keys(anti)).toEqual(['requiredDuringSchedulingIgnoredDuringExecution']);
      const env = Object.fromEntries((redis.env ?? []).map((e) => [e.name, e]));
      expect(env.POD_IP?.valueFrom?.fieldRef).toEqual({ fieldPath: 'status.podIP' });
      const maxmemory = bytes(env.REDIS_MAXMEMORY!.value!);
      const limit = bytes(redis.resources!.limits!.memory!);
      expect(maxmemory).toBeLessThanOrEqual(limit * 0.75);
      expect(maxmemory).toBeGreaterThan(limit * 0.3);
    });

    it('Redis Cluster: NetworkPolicy opens 6379 to the app pods and the bus port 16379 only between nodes', () => {
      const np = one(objs(), 'NetworkPolicy', 'redis-cluster').spec as {
        ingress: Array<{ from: Array<{ podSelector: { matchLabels: Record<string, string> } }>; ports: Array<{ port: number }> }>;
      };
      const app = podTemplate(one(objs(), 'Deployment', 'sessioncache-example'))!.metadata!.labels;
      const redis = podTemplate(one(objs(), 'StatefulSet', 'redis-cluster'))!.metadata!.labels;
      const allowed = (labels: Record<string, string> | undefined, port: number): boolean =>
        np.ingress.some((r) => r.ports.some((p) => p.port === port) && r.from.some((f) => selects(f.podSelector.matchLabels, labels)));
      expect(allowed(app, 6379)).toBe(true);
      expect(allowed(redis, 6379)).toBe(true);
      expect(allowed(redis, 16379)).toBe(true);
      expect(allowed(app, 16379)).toBe(false);
    });

    it('Redis Cluster: the PDB keeps one node at a time and does not cover the init Job', () => {
      const pdb = one(objs(), 'PodDisruptionBudget', 'redis-cluster').spec as { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
      expect(pdb.maxUnavailable).toBe(1);
      const job = one(objs(), 'Job', 'redis-cluster-init');
      expect(selects(pdb.selector.matchLabels, podTemplate(job)!.metadata?.labels)).toBe(false);
      const jobEnv = Object.fromEntries((podTemplate(job)!.spec.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
      const sts = one(objs(), 'StatefulSet', 'redis-cluster').spec as { replicas: number; serviceName: string };
      expect(Number(jobEnv.REDIS_NODES)).toBe(sts.replicas);
      expect(jobEnv.REDIS_HEADLESS_SERVICE).toBe(sts.serviceName);
      expect(jobEnv.REDIS_STATEFULSET).toBe('redis-cluster');
    });

    it('app: the sidecar is a native sidecar sharing the pod, and both are wired to the same Redis nodes', () => {
      const pod = podTemplate(one(objs(), 'Deployment', 'sessioncache-example'))!.spec;
      const sidecar = pod.initContainers?.find((c) => c.name === 'sidecar');
      expect(sidecar?.restartPolicy).toBe('Always');
      expect(sidecar?.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(9464);
      expect(sidecar?.readinessProbe?.httpGet?.path).toBe('/readyz');
      const app = pod.containers.find((c) => c.name === 'app')!;
      expect(app.livenessProbe?.httpGet?.path).toBe('/healthz');
      const env = (c: typeof app): Record<string, unknown> => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
      expect(env(app).SESSIONCACHE_SIDECAR_URL).toBe('http://127.0.0.1:9464');
      expect(env(sidecar!).SESSIONCACHE_REDIS_NODES).toEqual(env(app).REDIS_CLUSTER_NODES);
      const nodesCm = find(objs(), 'ConfigMap').find((c) => c.data?.REDIS_CLUSTER_NODES);
      const sts = one(objs(), 'StatefulSet', 'redis-cluster').spec as { replicas: number; serviceName: string };
      const nodes = nodesCm!.data!.REDIS_CLUSTER_NODES!.split(',');
      expect(nodes).toEqual(Array.from({ length: sts.replicas }, (_v, i) => `redis-cluster-${i}.${sts.serviceName}:6379`));
      for (const c of [app, sidecar!]) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      }
    });

    it('monitoring: the ServiceMonitor scrapes the sidecar port, dashboards are labelled for Grafana, the PrometheusRule is the shipped rule file', () => {
      const sm = one(objs(), 'ServiceMonitor', 'sessioncache-example').spec as { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string }> };
      const services = find(objs(), 'Service').filter((s) => selects(sm.selector.matchLabels, s.metadata.labels));
      expect(services.map((s) => s.metadata.name)).toEqual(['sessioncache-example-metrics']);
      const ports = (services[0]!.spec as { ports: Array<{ name: string; port: number }> }).ports;
      expect(ports.find((p) => p.name === sm.endpoints[0]!.port)?.port).toBe(9464);

      const dashboards = find(objs(), 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1');
      expect(dashboards.map((c) => Object.keys(c.data!)).flat().sort()).toEqual(['sessioncache-overview.json', 'sessioncache-redis-cluster.json']);
      for (const c of dashboards) for (const json of Object.values(c.data!)) expect(() => JSON.parse(json)).not.toThrow();

      const rule = one(objs(), 'PrometheusRule', 'sessioncache');
      expect((rule.spec as { groups: unknown }).groups).toEqual(loadRuleGroups());
    });
  });

  it('overlays put everything in their namespace and prod pins images away from the placeholders', () => {
    for (const [k, ns] of [
      ['k8s/overlays/dev', 'sessioncache-dev'],
      ['k8s/overlays/prod', 'sessioncache'],
    ] as const) {
      const objs = rendered.get(k)!;
      expect(one(objs, 'Namespace', ns)).toBeDefined();
      expect(objs.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== ns).map((o) => o.metadata.name)).toEqual([]);
    }
    const images = rendered
      .get('k8s/overlays/prod')!
      .flatMap((o) => (podTemplate(o) ? [...podTemplate(o)!.spec.containers, ...(podTemplate(o)!.spec.initContainers ?? [])] : []))
      .map((c) => c.image);
    for (const image of images) expect(image).toMatch(/:[\w.-]+$/);
    expect(images.filter((i) => i.startsWith('sessioncache/'))).toEqual([]);
    // The Prometheus Operator only picks up monitoring objects with its selector label.
    for (const o of rendered.get('k8s/overlays/prod')!.filter((x) => x.apiVersion.startsWith('monitoring.coreos.com/'))) {
      expect(o.metadata.labels?.release).toBe('kube-prometheus-stack');
    }
  });

  it('the gateway example routes to the app Service port and hashes on the session cookie', () => {
    const objs = rendered.get('k8s/examples/gateway-affinity')!;
    const route = one(objs, 'HTTPRoute', 'sessioncache-example').spec as { rules: Array<{ backendRefs: Array<{ name: string; port: number }> }> };
    const svc = one(rendered.get('k8s/base')!, 'Service', 'sessioncache-example').spec as { ports: Array<{ port: number }> };
    const ref = route.rules[0]!.backendRefs[0]!;
    expect(ref.name).toBe('sessioncache-example');
    expect(svc.ports.map((p) => p.port)).toContain(ref.port);
    const policy = one(objs, 'BackendTrafficPolicy', 'sessioncache-example-affinity').spec as {
      targetRefs: Array<{ kind: string; name: string }>;
      loadBalancer: { type: string; consistentHash: { type: string; cookie: { name: string } } };
    };
    expect(policy.targetRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'sessioncache-example' }]);
    expect(policy.loadBalancer).toMatchObject({ type: 'ConsistentHash', consistentHash: { type: 'Cookie', cookie: { name: 'connect.sid' } } });
  });

  it('the Redis configuration is a cluster-mode cache that keeps nodes.conf on the volume', () => {
    const conf = fs.readFileSync(path.join(ROOT, 'k8s/base/redis-cluster/redis.conf'), 'utf8');
    const settings = new Map(
      conf
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('#'))
        .map((l) => [l.split(/\s+/)[0]!, l.split(/\s+/).slice(1).join(' ')]),
    );
    expect(settings.get('cluster-enabled')).toBe('yes');
    expect(settings.get('cluster-config-file')).toBe('/data/nodes.conf');
    expect(settings.get('cluster-require-full-coverage')).toBe('no');
    expect(settings.get('save')).toBe('""');
    expect(settings.get('appendonly')).toBe('no');
    expect(settings.get('maxmemory-policy')).toMatch(/^volatile-/);
    // parseYaml is used elsewhere; keep the kustomization honest about which scripts it ships.
    const kz = parseYaml(fs.readFileSync(path.join(ROOT, 'k8s/base/redis-cluster/kustomization.yaml'), 'utf8')) as {
      configMapGenerator: Array<{ name: string; files: string[] }>;
    };
    const scripts = kz.configMapGenerator.find((g) => g.name === 'redis-cluster-scripts')!.files.map((f) => path.basename(f)).sort();
    expect(scripts).toEqual(fs.readdirSync(path.join(ROOT, 'k8s/base/redis-cluster/scripts')).sort());
  });
});
