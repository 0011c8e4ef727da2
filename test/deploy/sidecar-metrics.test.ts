import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { type MetricsReport, REPORT_FORMAT_VERSION, SDK_METRICS } from '@sessioncache/sdk';
import { build, parseNodeList } from '@sessioncache/sidecar';
import type { FastifyInstance } from 'fastify';
import { contractFamilies, TARGET_LABELS } from './helpers/contract';
import { familyOf, parseExposition, parsePromQL } from './helpers/promql';
import { dashboardExpressions, loadRuleGroups, ROOT, ruleExpressions } from './helpers/sources';

// The real check behind every dashboard panel and alert: start the sidecar against the shared
// real Redis Cluster (REDIS_CLUSTER_NODES, from the jest global setup), post one SDK report in
// the SDK's wire format so the SDK families exist, read /metrics, and require every metric name
// and label the rules and dashboards select to be in that output. The recorded output is kept
// in .sessioncache/test-results/sidecar-metrics.txt.

const RECORDED = path.join(ROOT, '.sessioncache', 'test-results', 'sidecar-metrics.txt');

/** One report touching every SDK family with its first allowed label values. */
function fullReport(): MetricsReport {
  const report: MetricsReport = {
    version: REPORT_FORMAT_VERSION,
    worker: 'deploy-check',
    instance: randomUUID(),
    seq: 1,
    timestamp: Date.now(),
    counters: [],
    gauges: [],
    histograms: [],
  };
  for (const [name, spec] of Object.entries(SDK_METRICS)) {
    const labels = Object.fromEntries(Object.entries(spec.labels).map(([k, values]) => [k, (values as readonly string[])[0]!]));
    if (spec.type === 'counter') report.counters.push({ name, labels, value: 3 });
    else if (spec.type === 'gauge') report.gauges.push({ name, labels, value: 1 });
    else {
      const buckets = 'buckets' in spec ? spec.buckets : [];
      const counts = new Array<number>(buckets.length + 1).fill(0);
      counts[2] = 2;
      report.histograms.push({ name, labels, counts, sum: 0.0001 });
    }
  }
  return report;
}

let app: FastifyInstance;
let base: string;
let exposition: string;

/** A real HTTP request to the listening sidecar (fastify's inject needs an ESM-only module jest cannot load here). */
async function http(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  const nodes = process.env.REDIS_CLUSTER_NODES;
  if (!nodes) throw new Error('REDIS_CLUSTER_NODES is not set: run through jest.int.config.js (its global setup starts the cluster)');
  app = build({ redisNodes: parseNodeList(nodes, 'REDIS_CLUSTER_NODES'), probeIntervalMs: 250, probeTimeoutMs: 250 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('sidecar has no TCP address');
  base = `http://127.0.0.1:${address.port}`;
  // Wait (bounded) until the probe has seen the cluster: the Redis families come from it.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await http('GET', '/readyz');
    if (ready.status === 200) break;
    if (Date.now() > deadline) throw new Error(`sidecar never became ready: ${ready.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const posted = await http('POST', '/v1/report', fullReport());
  if (posted.status !== 200) throw new Error(`report refused (${posted.status}): ${posted.text}`);
  const res = await http('GET', '/metrics');
  expect(res.status).toBe(200);
  exposition = res.text;
  fs.mkdirSync(path.dirname(RECORDED), { recursive: true });
  fs.writeFileSync(RECORDED, exposition);
}, 60_000);

afterAll(async () => {
  await app?.close();
});

describe('names used by rules and dashboards exist in the real sidecar /metrics', () => {
  const expressions = [...ruleExpressions(), ...dashboardExpressions()];
  const recorded = new Set(loadRuleGroups().flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));

  it('the recorded output covers the probe of every cluster node and the reported SDK families', () => {
    const { samples } = parseExposition(exposition);
    const nodes = process.env.REDIS_CLUSTER_NODES!.split(',');
    const upLines = exposition.split('\n').filter((l) => l.startsWith('sessioncache_redis_up{'));
    expect(upLines.length).toBeGreaterThanOrEqual(nodes.length);
    expect(upLines.every((l) => l.endsWith(' 1'))).toBe(true);
    expect(exposition).toMatch(/^sessioncache_redis_cluster_state\{[^}]*\} 1$/m);
    expect(samples.get('sessioncache_operations_total')).toEqual(new Set(['op', 'result', 'worker']));
  });

  it('every metric name selected exists (histograms through _bucket/_sum/_count)', () => {
    const { families } = parseExposition(exposition);
    const missing: string[] = [];
    for (const e of expressions) {
      for (const name of parsePromQL(e.expr).metricNames) {
        if (!recorded.has(name) && !familyOf(name, families)) missing.push(`${e.where}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every label matched on exists on that metric in the output', () => {
    const { samples } = parseExposition(exposition);
    const wrong: string[] = [];
    for (const e of expressions) {
      for (const s of parsePromQL(e.expr).selectors) {
        if (recorded.has(s.name)) continue;
        const have = samples.get(s.name);
        for (const l of s.labels) {
          if (!TARGET_LABELS.includes(l) && !have?.has(l)) wrong.push(`${e.where}: ${s.name}{${l}}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the sidecar exposes every family of the contract the dashboards were written against', () => {
    const { families } = parseExposition(exposition);
    const absent = [...contractFamilies()].filter(([name, type]) => families.get(name) !== type).map(([name, type]) => `${name} (${type})`);
    expect(absent).toEqual([]);
  });

  it('the sessioncache families pass promtool check metrics', () => {
    const ours = exposition
      .split('\n')
      .filter((l) => /^(# (HELP|TYPE) )?sessioncache_/.test(l))
      .join('\n');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: `${ours}\n`, encoding: 'utf8' });
    if (r.error) throw new Error(`promtool could not run: ${r.error.message}`);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
