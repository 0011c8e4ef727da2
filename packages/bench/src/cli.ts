#!/usr/bin/env node
/**
 * `npm run -w @sessioncache/bench bench [-- --quick]`: sessioncache against its peers on a
 * Redis Cluster this run starts. Prints the tables, writes bench-results/*.json and
 * docs/benchmarks.md. Progress goes to stderr.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DevCluster } from '@sessioncache/devcluster';
import type { Contender } from './contenders/contender';
import { renderReport } from './docs';
import { runHitPath } from './hit-path';
import { runHttp } from './http/driver';
import { runInstances } from './instances';
import { runLag } from './lag';
import { loadAverage, machineInfo, type MachineInfo } from './machine';
import { FULL_OPTIONS, parseArgs, USAGE, type BenchOptions, type Section } from './options';
import { hitPathTables, httpTable, instancesTable, lagTable, ratioTable, scaleTable, targetsTable, workloadTable } from './report';
import { runScale } from './scale';
import { log, Suite } from './suite';
import { renderText, type Table } from './table';
import { checkTargets, type RunResults, type TargetCheck } from './targets';
import { microWorkloads } from './workloads';

function print(title: string, ...tables: Table[]): void {
  process.stdout.write(`\n## ${title}\n\n${tables.map(renderText).join('\n\n')}\n`);
}

async function runSections(opts: BenchOptions, suite: Suite, results: RunResults): Promise<void> {
  const defs = microWorkloads(opts);
  const has = (s: Section): boolean => opts.only.includes(s);
  for (const section of ['mixed', 'concurrency', 'uniform', 'write-heavy', 'large', 'hit-path', 'redis-path'] as const) {
    if (!has(section)) continue;
    for (const def of defs[section] ?? []) {
      const w = await suite.runWorkload(def);
      results.workloads.push(w);
      print(w.title, workloadTable(w), ...(w.ratios.length ? [ratioTable(w)] : []));
    }
    if (section === 'large') await suite.releasePayload(16 * 1024);
    if (section === 'hit-path') {
      const ids = ['sc-near', 'lru-frozen', 'lru-clone', 'lru-msgpack', 'lru-none'] as const;
      const contenders: Contender[] = [];
      for (const id of ids) contenders.push(await suite.contender(id, 1024, opts.sessions));
      log('hit path: tight loop and anatomy');
      results.hitPath = await runHitPath(contenders, opts.sessions, opts.zipfS, opts.tightLoopOps, opts.rounds, opts.seed);
      const t = hitPathTables(results.hitPath);
      print('Near-cache hit, one call in flight (ns per hit)', t.tightLoop, t.anatomy);
    }
  }
  // The remaining sections connect their own instances: free the micro contenders' sockets.
  await suite.closeAllBut('sc-near', 1024);
  if (has('scale')) {
    const w = await runScale(suite);
    results.workloads.push(w);
    print(w.title, scaleTable(w));
  }
  if (has('instances')) {
    const w = await runInstances(suite);
    results.workloads.push(w);
    print(w.title, instancesTable(w));
  }
  if (has('lag')) {
    results.lag = await runLag(suite);
    print('Invalidation lag', lagTable(results.lag));
  }
  if (has('http')) {
    results.http = await runHttp(suite);
    if (results.http.skipped) process.stdout.write(`\n## Express end to end: skipped (${results.http.skipped})\n`);
    else print('Express end to end', httpTable(results.http));
  }
}

/** Everything a run writes to its JSON file. */
interface SavedRun extends RunResults {
  options: BenchOptions;
  machine: MachineInfo;
  durationSec: number;
  targets: TargetCheck[];
}

/** --from-json: the report of a saved run, re-rendered (after a change to the report's text). */
function rerender(opts: BenchOptions): void {
  const saved = JSON.parse(readFileSync(opts.fromJson!, 'utf8')) as SavedRun;
  const docsPath = opts.docsPath ?? FULL_OPTIONS.docsPath!;
  writeFileSync(docsPath, renderReport({ ...saved, opts: saved.options, targets: checkTargets(saved, saved.options.inflight) }));
  log(`wrote ${docsPath} from ${opts.fromJson}`);
}

async function run(opts: BenchOptions): Promise<void> {
  const t0 = performance.now();
  const machine = machineInfo();
  log(`${opts.quick ? 'quick' : 'full'} run; starting a Redis Cluster of 3 masters + ${opts.replicas * 3} replicas on 127.0.0.1`);
  const cluster = await DevCluster.start({ masters: 3, replicas: opts.replicas });
  const pids = (await cluster.status()).map((n) => n.pid).filter((p): p is number => p !== undefined);
  const suite = new Suite(opts, cluster, pids);
  const results: RunResults = { workloads: [] };
  try {
    await runSections(opts, suite, results);
  } finally {
    await suite.close();
    await cluster.stop();
  }
  machine.loadAverage.end = loadAverage();
  const targets = checkTargets(results, opts.inflight);
  print('Targets', targetsTable(targets));
  const durationSec = (performance.now() - t0) / 1000;
  const stamp = machine.date.replace(/[:.]/g, '-');
  mkdirSync(opts.outDir, { recursive: true });
  const jsonPath = path.join(opts.outDir, `bench-${stamp}.json`);
  const saved: SavedRun = { options: opts, machine, durationSec, targets, ...results };
  writeFileSync(jsonPath, `${JSON.stringify(saved, null, 2)}\n`);
  log(`wrote ${jsonPath}`);
  if (opts.docsPath) {
    mkdirSync(path.dirname(opts.docsPath), { recursive: true });
    writeFileSync(opts.docsPath, renderReport({ ...results, opts, machine, targets, durationSec }));
    log(`wrote ${opts.docsPath}`);
  }
  log(`done in ${durationSec.toFixed(0)} s`);
}

async function main(): Promise<void> {
  let opts: BenchOptions | undefined;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  if (!opts) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (opts.fromJson) rerender(opts);
  else await run(opts);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
