import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { headingAnchors } from './helpers/markdown';
import { promtool } from './helpers/promtool';
import { loadRuleGroups, OPERATIONS_DOC, ROOT, RULE_TESTS_FILE, RULES_FILE } from './helpers/sources';

// Offline checks of the Prometheus side: rule syntax, promtool unit tests of every alert, the
// alert metadata operators rely on, and the compose scrape configuration.

interface RuleTestFile {
  rule_files: string[];
  tests: Array<{
    name: string;
    alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
  }>;
}

const alerts = loadRuleGroups().flatMap((g) => g.rules.filter((r) => r.alert));

describe('Prometheus rules (deploy/prometheus)', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES_FILE]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const r = promtool(['test', 'rules', RULE_TESTS_FILE]);
    if (r.status !== 0) throw new Error(`promtool test rules failed:\n${r.output}`);
    expect(r.output).toContain('SUCCESS');
  });

  it('unit tests catch a changed alert threshold (the promtool tests can fail)', () => {
    // Loosen one objective in a copy of the rules: the hit-ratio firing case must then fail.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessioncache-rules-'));
    fs.mkdirSync(path.join(dir, 'rules'));
    fs.mkdirSync(path.join(dir, 'tests'));
    const rules = fs.readFileSync(RULES_FILE, 'utf8');
    const mutated = rules.replace('sessioncache:near_cache_hit_ratio:rate5m < 0.7', 'sessioncache:near_cache_hit_ratio:rate5m < 0.3');
    expect(mutated).not.toBe(rules);
    fs.writeFileSync(path.join(dir, 'rules', path.basename(RULES_FILE)), mutated);
    fs.copyFileSync(RULE_TESTS_FILE, path.join(dir, 'tests', path.basename(RULE_TESTS_FILE)));
    const r = promtool(['test', 'rules', path.join(dir, 'tests', path.basename(RULE_TESTS_FILE))]);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('SessioncacheNearCacheHitRatioLow');
  });

  it('cover the alerts the issue asks for', () => {
    const names = alerts.map((a) => a.alert);
    for (const required of [
      'SessioncacheRedisClusterStateNotOk',
      'SessioncacheRedisClusterSlotsFailing',
      'SessioncacheRedisNodeDown',
      'SessioncacheNearCacheHitRatioLow',
      'SessioncacheGetLatencyP99High',
      'SessioncacheNearCacheFlushStorm',
      'SessioncacheSidecarNoReports',
    ]) {
      expect(names).toContain(required);
    }
  });

  const anchors = headingAnchors(fs.readFileSync(OPERATIONS_DOC, 'utf8'));
  it.each(alerts.map((a) => [a.alert!, a]))('%s has severity, summary, description and a runbook anchor that exists', (_name, a) => {
    expect(['critical', 'warning']).toContain(a.labels?.severity);
    expect(a.annotations?.summary?.trim()).toBeTruthy();
    expect(a.annotations?.description?.trim().length).toBeGreaterThan(40);
    const m = /^docs\/operations\.md#([a-z0-9_-]+)$/.exec(a.annotations?.runbook_url ?? '');
    expect(m).not.toBeNull();
    expect([...anchors]).toContain(m![1]);
  });

  it('have one firing and one quiet unit test case per alert', () => {
    const doc = parseYaml(fs.readFileSync(RULE_TESTS_FILE, 'utf8')) as RuleTestFile;
    expect(doc.rule_files.map((f) => path.resolve(path.dirname(RULE_TESTS_FILE), f))).toContain(RULES_FILE);
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    const missing: string[] = [];
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      if (!mine.some((c) => c.exp_alerts.length > 0)) missing.push(`${a.alert}: no firing case`);
      if (!mine.some((c) => c.exp_alerts.length === 0)) missing.push(`${a.alert}: no quiet case`);
    }
    expect(missing).toEqual([]);
  });

  it('compose scrape configuration passes promtool check config', () => {
    const r = promtool(['check', 'config', path.join(ROOT, 'deploy', 'prometheus', 'prometheus.yml')]);
    if (r.status !== 0) throw new Error(r.output);
    expect(r.output).toContain('SUCCESS: 1 rule files found');
  });
});
