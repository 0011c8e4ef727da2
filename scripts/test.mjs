#!/usr/bin/env node
// The README's test command (`npm test`): builds every package, runs the unit tier and the
// integration tier (which starts one real Redis Cluster through @sessioncache/devcluster, or
// uses REDIS_CLUSTER_NODES), then prints one closing line `N passed, N failed` summed over all
// suites. Exits non-zero when anything failed.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, '.sessioncache', 'test-results');
fs.mkdirSync(outDir, { recursive: true });
const args = new Set(process.argv.slice(2));
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function run(cmd, argv, env = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

let passed = 0;
let failed = 0;
let skipped = 0;

if (!args.has('--no-build')) {
  if (run(bin('turbo'), ['run', 'build', '--output-logs=errors-only']) !== 0) {
    console.error('build failed');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const tiers = [
  ['unit', 'jest.unit.config.js'],
  ['integration', 'jest.int.config.js'],
].filter(([name]) => !args.has(`--no-${name === 'integration' ? 'int' : name}`));

let exitCode = 0;
for (const [name, config] of tiers) {
  const outputFile = path.join(outDir, `${name}.json`);
  fs.rmSync(outputFile, { force: true });
  console.error(`\n=== ${name} tests ===`);
  const status = run(bin('jest'), ['-c', config, '--json', `--outputFile=${outputFile}`]);
  if (status !== 0) exitCode = 1;
  let result;
  try {
    result = JSON.parse(fs.readFileSync(outputFile, 'utf8'));
  } catch {
    console.error(`${name} tests produced no result file (jest exit ${status})`);
    failed += 1;
    continue;
  }
  passed += result.numPassedTests;
  // A suite that fails to load has no failed test of its own: count it as one failure.
  failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
  skipped += result.numPendingTests + result.numTodoTests;
  console.error(`${name}: ${result.numPassedTests} passed, ${result.numFailedTests} failed, ${result.numRuntimeErrorTestSuites} suites failed to run`);
}

if (failed > 0) exitCode = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(exitCode);
