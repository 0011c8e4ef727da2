import { parsePromQL } from './helpers/promql';
import { type Dashboard, loadDashboards, panelsOf } from './helpers/sources';

// Offline re-implementation of the grafana/dashboard-linter rules that matter here (the linter
// itself is a Go binary this project cannot install), plus layout and variable checks.

const dashboards = loadDashboards();
const entries = [...dashboards.entries()];

function allPanels(d: Dashboard): Array<{ id?: number; type: string; title?: string; gridPos?: { x: number; y: number; w: number; h: number } }> {
  return (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]) as never;
}

describe('Grafana dashboards (deploy/grafana/dashboards)', () => {
  it('are the overview and the Redis Cluster dashboards, with distinct stable uids', () => {
    const uids = entries.map(([, d]) => d.uid);
    expect(uids.sort()).toEqual(['sessioncache-overview', 'sessioncache-redis-cluster']);
    for (const uid of uids) expect(uid).toMatch(/^[a-z0-9-]{1,40}$/);
  });

  describe.each(entries)('%s', (_file, d) => {
    const panels = panelsOf(d);
    const variables = d.templating?.list ?? [];

    it('has a Prometheus datasource variable that every panel and query uses', () => {
      const ds = variables.find((v) => v.type === 'datasource');
      expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
      for (const p of panels) {
        expect([p.title, p.datasource]).toEqual([p.title, { type: 'prometheus', uid: '${datasource}' }]);
        for (const t of p.targets ?? []) expect([p.title, t.datasource?.uid]).toEqual([p.title, '${datasource}']);
      }
      for (const v of variables.filter((x) => x.type === 'query')) expect(v.datasource?.uid).toBe('${datasource}');
    });

    it('gives every panel a title, a description and a unit', () => {
      expect(panels.length).toBeGreaterThan(5);
      for (const p of panels) {
        expect(p.title?.trim()).toBeTruthy();
        expect([p.title, (p.description ?? '').length > 20]).toEqual([p.title, true]);
        expect([p.title, typeof p.fieldConfig?.defaults?.unit]).toEqual([p.title, 'string']);
      }
    });

    it('uses $__rate_interval for every range selector', () => {
      const fixed = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => parsePromQL(t.expr ?? '').fixedRanges.map((r) => `${p.title}: ${r}`)));
      expect(fixed).toEqual([]);
    });

    it('has unique panel ids, unique refIds per panel and panels inside the 24-column grid', () => {
      const all = allPanels(d);
      const ids = all.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels) {
        const refs = (p.targets ?? []).map((t) => t.refId);
        expect(refs.length).toBeGreaterThan(0);
        expect(new Set(refs).size).toBe(refs.length);
      }
      for (const p of all) {
        expect(p.gridPos).toBeDefined();
        expect(p.gridPos!.x + p.gridPos!.w).toBeLessThanOrEqual(24);
      }
    });

    it('only references template variables it defines', () => {
      const defined = new Set(variables.map((v) => v.name));
      const used = new Set<string>();
      const texts = [
        ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')),
        ...variables.map((v) => (typeof v.query === 'string' ? v.query : '')),
      ];
      for (const t of texts) for (const m of t.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)/g)) used.add(m[1]!);
      const undefinedVars = [...used].filter((n) => !n.startsWith('__') && !defined.has(n));
      expect(undefinedVars).toEqual([]);
    });
  });
});
