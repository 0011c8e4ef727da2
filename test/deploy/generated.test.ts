import * as fs from 'node:fs';
import * as path from 'node:path';
import { generatedFiles } from '../../deploy/generate';
import { ROOT } from './helpers/sources';

// The dashboards JSON, their Kubernetes ConfigMaps and the PrometheusRule are generated from one
// source each (deploy/generate.ts). A stale committed copy would ship a dashboard or a rule that
// nobody reviewed, so any difference fails here with the command that regenerates them.

describe('generated deployment files', () => {
  const files = generatedFiles(ROOT);

  it('include both dashboards, their ConfigMaps and the PrometheusRule', () => {
    expect([...files.keys()].sort()).toEqual([
      'deploy/grafana/dashboards/sessioncache-overview.json',
      'deploy/grafana/dashboards/sessioncache-redis-cluster.json',
      'k8s/base/monitoring/grafana-dashboards.yaml',
      'k8s/base/monitoring/prometheus-rule.yaml',
    ]);
  });

  it.each([...files.keys()])('%s is current (regenerate: npx tsc -p deploy && node .sessioncache/deploy-gen/generate.js)', (file) => {
    const committed = fs.readFileSync(path.join(ROOT, file), 'utf8');
    expect(committed).toBe(files.get(file));
  });

  it('no stray dashboard JSON lies next to the generated ones', () => {
    const onDisk = fs.readdirSync(path.join(ROOT, 'deploy', 'grafana', 'dashboards')).map((f) => `deploy/grafana/dashboards/${f}`);
    expect(onDisk.filter((f) => !files.has(f))).toEqual([]);
  });
});
