import type * as LezerPromQL from '@prometheus-io/lezer-promql' with { 'resolution-mode': 'import' };

// The package is an ES module with a CommonJS build (its "require" export) that jest loads;
// only its types need the ESM resolution.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require('@prometheus-io/lezer-promql') as typeof LezerPromQL;

/**
 * Grafana's built-in interval variables stand where PromQL expects a duration; any other
 * template variable (`$namespace`, `${worker}`) only ever stands inside a quoted label value.
 * Each is replaced by a distinct duration no query would write by hand, so the parse tree
 * still tells which variable a range selector used.
 */
const GRAFANA_DURATIONS: ReadonlyArray<[RegExp, string]> = [
  [/\$(?:__rate_interval\b|\{__rate_interval\})/g, '7777s'],
  [/\$(?:__interval\b|\{__interval\})/g, '7778s'],
  [/\$(?:__range\b|\{__range\})/g, '7779s'],
];
const RATE_INTERVAL_RANGE = '[7777s]';

/** Result of parsing one expression. */
export interface ParsedPromQL {
  /** One message per syntax error node, with the text around it. */
  readonly errors: string[];
  /** Every metric name selected (VectorSelector identifiers), recording-rule names included. */
  readonly metricNames: Set<string>;
  /** Range selectors whose duration is not `$__rate_interval` (dashboards must use it). */
  readonly fixedRanges: string[];
  /** Names of the functions called. */
  readonly functions: Set<string>;
  /** Each vector selector: its metric name and the label names its matchers use. */
  readonly selectors: Array<{ name: string; labels: string[] }>;
}

/**
 * Parses one PromQL expression with the official Lezer grammar (@prometheus-io/lezer-promql,
 * the parser of the Prometheus UI) after substituting Grafana's interval variables.
 */
export function parsePromQL(raw: string): ParsedPromQL {
  const expr = GRAFANA_DURATIONS.reduce((e, [re, d]) => e.replace(re, d), raw);
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metricNames = new Set<string>();
  const fixedRanges: string[] = [];
  const functions = new Set<string>();
  const selectors: Array<{ name: string; labels: string[] }> = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        errors.push(`syntax error at ${node.from}: …${expr.slice(Math.max(0, node.from - 20), node.to + 20)}…`);
        return;
      }
      if (node.name === 'VectorSelector') {
        const sel = node.node;
        const id = sel.getChild('Identifier');
        const name = id ? expr.slice(id.from, id.to) : '';
        const labels: string[] = [];
        const matchers = sel.getChild('LabelMatchers');
        for (let m = matchers?.firstChild; m; m = m.nextSibling) {
          const label = m.getChild('LabelName');
          if (label) labels.push(expr.slice(label.from, label.to));
        }
        if (name) metricNames.add(name);
        selectors.push({ name, labels });
      }
      if (node.name === 'FunctionIdentifier') functions.add(expr.slice(node.from, node.to));
      if (node.name === 'MatrixSelector') {
        const text = expr.slice(node.from, node.to);
        const range = text.slice(text.lastIndexOf('['));
        if (range !== RATE_INTERVAL_RANGE) fixedRanges.push(text);
      }
    },
  });
  return { errors, metricNames, fixedRanges, functions, selectors };
}

/** Metric family name -> type, as a `/metrics` page or the contract declares it. */
export type FamilyTypes = ReadonlyMap<string, 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'>;

/**
 * Maps a sample name used in a query to the family that exposes it: the name itself, or for
 * `_bucket`/`_sum`/`_count` the histogram (or `_sum`/`_count` of a summary) it belongs to.
 * Returns undefined when no family exposes that name.
 */
export function familyOf(sampleName: string, families: FamilyTypes): string | undefined {
  if (families.has(sampleName)) return sampleName;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sampleName);
  if (!m) return undefined;
  const base = m[1]!;
  const type = families.get(base);
  if (type === 'histogram') return base;
  if (type === 'summary' && m[2] !== 'bucket') return base;
  return undefined;
}

/**
 * Parses the Prometheus text exposition format just far enough to know which families exist,
 * their types and the sample names and label names they carry.
 */
export function parseExposition(text: string): {
  families: Map<string, 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'>;
  samples: Map<string, Set<string>>;
} {
  const families = new Map<string, 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'>();
  const samples = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      families.set(type[1]!, type[2] as 'counter');
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s/.exec(line);
    if (!sample) continue;
    const labels = samples.get(sample[1]!) ?? new Set<string>();
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(m[1]!);
    samples.set(sample[1]!, labels);
  }
  return { families, samples };
}
