import { contractFamilies, contractLabels, TARGET_LABELS } from './helpers/contract';
import { familyOf, parsePromQL } from './helpers/promql';
import { dashboardExpressions, loadRuleGroups, ruleExpressions } from './helpers/sources';

// Every PromQL expression shipped (alert and recording rules, dashboard panels and variables)
// parses with the Prometheus UI's own grammar, and every metric it selects is a family of the
// metric contract or a recording rule defined in the rule file. The same names are checked
// against the sidecar's real /metrics output in sidecar-metrics.test.ts.

const expressions = [...ruleExpressions(), ...dashboardExpressions()];
const recorded = new Set(loadRuleGroups().flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
const contract = contractFamilies();

describe('PromQL in rules and dashboards', () => {
  it('there are expressions to check (rules and both dashboards)', () => {
    expect(expressions.filter((e) => e.where.startsWith('sessioncache.rules.yml')).length).toBeGreaterThan(10);
    expect(expressions.filter((e) => e.where.startsWith('sessioncache-overview.json')).length).toBeGreaterThan(15);
    expect(expressions.filter((e) => e.where.startsWith('sessioncache-redis-cluster.json')).length).toBeGreaterThan(10);
  });

  it('the checks reject a syntax error and a name outside the contract', () => {
    expect(parsePromQL('sum(rate(sessioncache_operations_total[5m])').errors.length).toBeGreaterThan(0);
    expect(parsePromQL('sessioncache_operations_total{op="get"} /').errors.length).toBeGreaterThan(0);
    expect(familyOf('sessioncache_near_cache_entries_bucket', contract)).toBeUndefined();
    expect(familyOf('sessioncache_operations', contract)).toBeUndefined();
    expect(familyOf('sessioncache_operation_duration_seconds_bucket', contract)).toBe('sessioncache_operation_duration_seconds');
    expect(parsePromQL('rate(sessioncache_operations_total[5m])').fixedRanges).toEqual(['sessioncache_operations_total[5m]']);
    expect(parsePromQL('rate(sessioncache_operations_total[$__rate_interval])').fixedRanges).toEqual([]);
  });

  it.each(expressions.map((e) => [e.where, e.expr]))('%s parses', (_where, expr) => {
    expect(parsePromQL(expr).errors).toEqual([]);
  });

  it('every metric name used is in the contract or a recording rule', () => {
    const unknown: string[] = [];
    for (const e of expressions) {
      for (const name of parsePromQL(e.expr).metricNames) {
        if (recorded.has(name)) continue;
        if (!familyOf(name, contract)) unknown.push(`${e.where}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('every label matcher uses a label the family carries', () => {
    const labels = contractLabels();
    const wrong: string[] = [];
    for (const e of expressions) {
      for (const s of parsePromQL(e.expr).selectors) {
        const family = recorded.has(s.name) ? undefined : familyOf(s.name, contract);
        if (!family) continue;
        for (const l of s.labels) {
          if (!TARGET_LABELS.includes(l) && !labels.get(family)!.has(l)) wrong.push(`${e.where}: ${s.name}{${l}}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('every selector names its metric (no bare {__name__=...} matchers the name check would miss)', () => {
    const bare = expressions.flatMap((e) => parsePromQL(e.expr).selectors.filter((s) => !s.name).map(() => e.where));
    expect(bare).toEqual([]);
  });
});
