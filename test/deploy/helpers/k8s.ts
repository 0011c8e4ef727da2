import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CRD_TYPES } from './crd-types';
import { ROOT } from './sources';

/** A rendered Kubernetes object (the fields the checks read). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * Renders a kustomization with the real kustomize built into kubectl (v5 on this machine kind);
 * nothing is re-implemented, so every kustomize semantic (generators, patches, namespaces,
 * label transformers) is the one `kubectl apply -k` uses.
 */
export function kustomize(dir: string): K8sObject[] {
  const r = spawnSync('kubectl', ['kustomize', path.join(ROOT, dir)], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`kubectl could not run (${r.error.message}): kubectl >= 1.27 (kustomize v5) is needed`);
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`${dir}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj) objects.push(obj);
  }
  return objects;
}

/** Version of the kustomize built into kubectl, e.g. "v5.5.0". */
export function kustomizeVersion(): string {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`kubectl could not run (${r.error.message})`);
  return /Kustomize Version: (v[\d.]+)/.exec(r.stdout)?.[1] ?? 'none';
}

/** Schema validation result of one object. */
export interface SchemaResult {
  status: 'ok' | 'invalid' | 'no-schema';
  errors: string[];
}

/** Validates objects against kubernetes-models' bundled JSON schemas, in a child process. */
export function validateSchemas(objects: readonly unknown[]): SchemaResult[] {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'validate-k8s.mjs')], {
    cwd: ROOT,
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`validate-k8s.mjs failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as SchemaResult[];
}

function typeReference(obj: K8sObject): { module: string; type: string } | undefined {
  const crd = CRD_TYPES[`${obj.apiVersion} ${obj.kind}`];
  if (crd) return { module: path.join(__dirname, 'crd-types').split(path.sep).join('/'), type: crd };
  const file = path.join(ROOT, 'node_modules', 'kubernetes-models', obj.apiVersion, `${obj.kind}.d.ts`);
  if (!fs.existsSync(file)) return undefined;
  return { module: `kubernetes-models/${obj.apiVersion}/${obj.kind}`, type: `I${obj.kind}` };
}

/**
 * Strict field check: every object becomes an object literal typed with its TypeScript interface
 * (kubernetes-models, or crd-types.ts for custom resources) and tsc runs over them. Excess
 * property checks reject any field the API does not define, at any depth, which the JSON
 * schemas above let through. Returns tsc's diagnostics, one string each, keyed by label.
 */
export function typecheck(objects: ReadonlyArray<{ label: string; obj: K8sObject }>): { untyped: string[]; diagnostics: string[] } {
  const dir = path.join(ROOT, '.sessioncache', `k8s-typecheck-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const untyped: string[] = [];
  const imports = new Map<string, string>();
  const lines: string[] = [];
  objects.forEach(({ label, obj }, i) => {
    const ref = typeReference(obj);
    if (!ref) {
      untyped.push(label);
      return;
    }
    const alias = `T${imports.size}`;
    const key = `${ref.module}#${ref.type}`;
    if (!imports.has(key)) imports.set(key, alias);
    lines.push(`// ${label}`, `export const o${i}: ${imports.get(key)} = ${JSON.stringify(obj, null, 1)};`);
  });
  const header = [...imports].map(([key, alias]) => {
    const [module, type] = key.split('#');
    return `import type { ${type} as ${alias} } from '${module}';`;
  });
  fs.writeFileSync(path.join(dir, 'objects.ts'), [...header, ...lines, ''].join('\n'));
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'esnext', moduleResolution: 'bundler', target: 'es2022', skipLibCheck: true, types: [] },
      files: ['objects.ts'],
    }),
  );
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--pretty', 'false'], {
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  const source = fs.readFileSync(path.join(dir, 'objects.ts'), 'utf8').split('\n');
  const diagnostics = r.stdout
    .split('\n')
    .filter((l) => l.includes('error TS'))
    .map((l) => {
      // Name the object the error is in: the nearest "// label" line above it.
      const line = Number(/\((\d+),\d+\)/.exec(l)?.[1] ?? 0);
      let label = '?';
      for (let k = line - 1; k >= 0; k--) {
        if (source[k]?.startsWith('// ')) {
          label = source[k]!.slice(3);
          break;
        }
      }
      return `${label}: ${l.replace(/^.*?error /, 'error ')}`;
    });
  if (r.status !== 0 && diagnostics.length === 0) throw new Error(`tsc failed without diagnostics:\n${r.stdout}${r.stderr}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return { untyped, diagnostics };
}

/** The pod template of a workload, if it has one. */
export function podTemplate(obj: K8sObject): { metadata?: { labels?: Record<string, string> }; spec: PodSpec } | undefined {
  if (!['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(obj.kind)) return undefined;
  return (obj.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } }).template;
}

/** The pod spec fields the checks read. */
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: unknown }>;
  affinity?: Record<string, unknown>;
  topologySpreadConstraints?: Array<{ topologyKey: string }>;
  securityContext?: { runAsNonRoot?: boolean };
}

export interface Container {
  name: string;
  image: string;
  restartPolicy?: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{
    name: string;
    value?: string;
    valueFrom?: { configMapKeyRef?: { name: string; key: string }; secretKeyRef?: { name: string; key: string }; fieldRef?: unknown };
  }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { limits?: { memory?: string }; requests?: { memory?: string } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface Probe {
  httpGet?: { port: number | string; path: string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
}

/** Whether a matchLabels selector selects a set of labels. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Bytes of a Kubernetes quantity ("320Mi") or a Redis memory size ("192mb"). */
export function bytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(quantity.trim());
  if (!m) throw new Error(`not a size: ${quantity}`);
  const units: Record<string, number> = {
    '': 1,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    kb: 1024,
    mb: 1024 ** 2,
    gb: 1024 ** 3,
  };
  const unit = units[m[2]!] ?? units[m[2]!.toLowerCase()];
  if (unit === undefined) throw new Error(`unknown unit in ${quantity}`);
  return Number(m[1]) * unit;
}
