import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

/** Repository root. */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

export const RULES_FILE = path.join(ROOT, 'deploy', 'prometheus', 'rules', 'sessioncache.rules.yml');
export const RULE_TESTS_FILE = path.join(ROOT, 'deploy', 'prometheus', 'tests', 'sessioncache.rules.test.yml');
export const DASHBOARDS_DIR = path.join(ROOT, 'deploy', 'grafana', 'dashboards');
export const OPERATIONS_DOC = path.join(ROOT, 'docs', 'operations.md');

/** One rule of a Prometheus rule file. */
export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The groups of the shipped rule file. */
export function loadRuleGroups(file = RULES_FILE): Array<{ name: string; rules: Rule[] }> {
  const doc = parseYaml(fs.readFileSync(file, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  return doc.groups;
}

/** A PromQL expression and where it was found, for messages. */
export interface Located {
  readonly where: string;
  readonly expr: string;
}

/** Every expression of the rule file. */
export function ruleExpressions(file = RULES_FILE): Located[] {
  return loadRuleGroups(file).flatMap((g) =>
    g.rules.map((r) => ({ where: `${path.basename(file)} ${g.name}/${r.alert ?? r.record}`, expr: r.expr })),
  );
}

/** A committed dashboard (Grafana classic JSON model), by file name. */
export function loadDashboards(dir = DASHBOARDS_DIR): Map<string, Dashboard> {
  const out = new Map<string, Dashboard>();
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    out.set(f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Dashboard);
  }
  return out;
}

/** The parts of the Grafana dashboard model the checks look at. */
export interface Dashboard {
  uid?: string;
  title?: string;
  templating?: { list?: Array<{ name: string; type: string; query?: unknown; datasource?: { uid?: string } }> };
  panels?: Panel[];
}
export interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Array<{ expr?: string; refId?: string; datasource?: { type?: string; uid?: string } }>;
  panels?: Panel[];
}

/** Every non-row panel of a dashboard, rows' nested panels included. */
export function panelsOf(d: Dashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/** Every expression of every committed dashboard: panel targets and query variables. */
export function dashboardExpressions(dir = DASHBOARDS_DIR): Located[] {
  const out: Located[] = [];
  for (const [file, d] of loadDashboards(dir)) {
    for (const p of panelsOf(d)) {
      for (const t of p.targets ?? []) {
        if (t.expr) out.push({ where: `${file} panel "${p.title}" ${t.refId}`, expr: t.expr });
      }
    }
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
      // label_values(<selector>, label) is Grafana syntax around a PromQL selector.
      const m = q ? /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(q) : null;
      if (m) out.push({ where: `${file} variable $${v.name}`, expr: m[1]! });
      else if (q) out.push({ where: `${file} variable $${v.name}`, expr: q });
    }
  }
  return out;
}
