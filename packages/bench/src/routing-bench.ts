#!/usr/bin/env node
/**
 * Routing micro-benchmark: how the cell ring (weighted rendezvous hashing) compares with jump
 * consistent hash and Maglev on what matters for session placement (sessions moved when a cell
 * is added or removed, balance, weight accuracy, lookup cost, memory), and what a lookup costs
 * beside an lru-cache `get` (the core of a near-cache hit) in the same run. Prints a table and
 * writes bench-results/routing.json. Needs the SDK built; `--expose-gc` for the memory column.
 *
 * Every per-call round runs in a fresh child process of its own, so no contender runs with JIT
 * state (call-site feedback, deoptimisations) left behind by another; rounds of all contenders
 * are interleaved, so a burst of load on a shared machine hits all of them alike.
 *
 *   npx tsc -p packages/sdk/tsconfig.build.json && npx tsc -p packages/bench/tsconfig.build.json
 *   node --expose-gc packages/bench/dist/routing-bench.js [--keys 1000000] [--rounds 7] [--markdown]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { CellWeight } from '../../sdk/dist/routing/ring';
import { jump, loadSdkRouting, maglev, rendezvous, type Placement, type PlacementAlgorithm, type SdkRouting } from './routing-contenders';
import { spread, type Spread } from './summary';
import { renderMarkdown, renderText, type Table } from './table';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const named = (...names: string[]): CellWeight[] => names.map((name) => ({ name }));
const FOUR = named('cell-a', 'cell-b', 'cell-c', 'cell-d');
const FIVE = named('cell-a', 'cell-b', 'cell-c', 'cell-d', 'cell-e');
const SIXTEEN = named(...Array.from({ length: 16 }, (_, i) => `cell-${i.toString(16)}`));
const WEIGHTED = [1, 2, 3, 4].map((weight, i) => ({ name: `w${weight}-${i}`, weight }));
const WEIGHTED_FIVE = FIVE.map((c, i) => ({ ...c, weight: i + 1 }));
/** Lookups cycle over this many distinct tags: more than fit in L1/L2, like real traffic. */
const WORKING_SET = 1 << 16;

/** Placement quality of one algorithm over all keys. */
interface Quality {
  /** Fraction of keys moved when a fifth cell joins four (ideal 0.2). */
  addMoved: number;
  /** Fraction of keys moved between two old cells on that change (ideal 0). */
  addStray: number;
  /** Fraction moved when the middle of five cells leaves (ideal 0.2). */
  removeMoved: number;
  /** Highest load over mean load with 5 and 16 equal cells (ideal 1). */
  maxOverMean5: number;
  maxOverMean16: number;
  /** Largest |observed share / weight share - 1| with weights 1:2:3:4 (ideal 0). */
  weightError: number;
}

/** A per-call figure: ns per call, and its ratio to the lru-cache get of the same round. */
interface PerCall {
  ns: Spread;
  perLruGet: Spread;
}

/** Cost of one algorithm. */
interface Cost {
  /** Lookups with 5 equal cells, 5 cells weighted 1..5, 16 equal cells. */
  equal5: PerCall;
  weighted5: PerCall;
  equal16: PerCall;
  /** Retained bytes of a 5-cell instance (heap + array buffers), NaN without --expose-gc. */
  bytes: number;
  /** Microseconds to build a 5-cell instance. */
  buildUs: Spread;
}

function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '1000000' },
      rounds: { type: 'string', default: '7' },
      out: { type: 'string', default: path.join(REPO_ROOT, 'bench-results', 'routing.json') },
      markdown: { type: 'boolean', default: false },
      // Internal: measure one round of one per-call figure and print it (see perCallRounds).
      child: { type: 'string' },
    },
  });
  const rounds = Number(values.rounds);
  if (values.child !== undefined) return measureChild(values.child);
  return run(Number(values.keys), rounds, values.out, values.markdown);
}

async function run(keyCount: number, rounds: number, out: string, markdown: boolean): Promise<void> {
  if (!(keyCount >= WORKING_SET) || !(rounds >= 1)) throw new Error(`--keys must be at least ${WORKING_SET} and --rounds at least 1`);
  const sdk = await loadSdkRouting();
  const tags = randomTags(keyCount);
  const contenders = algorithms(sdk);
  const perCall = perCallRounds(
    [...contenders.flatMap((_, i) => Object.keys(LOOKUP_CONFIGS).map((config) => `lookup:${i}:${config}`)), 'lru', 'parse', 'harness'],
    rounds,
  );
  const lruRounds = perCall.get('lru') ?? [];
  const figure = (spec: string): PerCall => {
    const ns = perCall.get(spec) ?? [];
    // Paired with the same round's lru-cache get, so load that varies between rounds cancels.
    return { ns: spread(ns), perLruGet: spread(ns.map((x, r) => x / (lruRounds[r] ?? NaN))) };
  };
  const results = contenders.map((a, i) => {
    process.stderr.write(`placing ${tags.length} tags with ${a.name}\n`);
    return { algorithm: a, quality: quality(a, tags), cost: cost(a, rounds, (config) => figure(`lookup:${i}:${config}`)) };
  });
  const baseline: Baseline = { lruGet: figure('lru'), parseSessionId: figure('parse'), harness: figure('harness') };

  const render = markdown ? renderMarkdown : renderText;
  process.stdout.write(`\n${render(qualityTable(results))}\n\n${render(costTable(results, baseline))}\n\n`);
  process.stdout.write(`${keyCount} random tags; lookups over ${WORKING_SET} distinct tags, median of ${rounds} rounds (min-max);\n`);
  process.stdout.write(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, load average ${os.loadavg()[0]?.toFixed(2)}\n`);

  mkdirSync(path.dirname(out), { recursive: true });
  const json = {
    node: process.version,
    cpu: os.cpus()[0]?.model,
    loadAverage: os.loadavg()[0],
    date: new Date().toISOString(),
    keys: keyCount,
    workingSet: WORKING_SET,
    rounds,
    algorithms: results.map(({ algorithm, quality: q, cost: c }) => ({ name: algorithm.name, weights: algorithm.weights, ...q, ...c })),
    baseline,
  };
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
}

const algorithms = (sdk: SdkRouting): PlacementAlgorithm[] => [rendezvous(sdk), jump(sdk), maglev(sdk)];
const LOOKUP_CONFIGS = { equal5: FIVE, weighted5: WEIGHTED_FIVE, equal16: SIXTEEN } as const;

/** Tags shaped like ids.ts makes them: 8 random bytes, unpadded base64url. */
function randomTags(count: number): string[] {
  const bytes = randomBytes(count * 8);
  return Array.from({ length: count }, (_, i) => bytes.toString('base64url', i * 8, i * 8 + 8));
}

function quality(a: PlacementAlgorithm, tags: readonly string[]): Quality {
  const four = place(a.build(FOUR), tags);
  const five = place(a.build(FIVE), tags);
  const without = place(a.build(a.without(FIVE, 'cell-c')), tags);
  let addMoved = 0;
  let addStray = 0;
  let removeMoved = 0;
  for (let i = 0; i < tags.length; i++) {
    if (four[i] !== five[i]) {
      addMoved++;
      if (five[i] !== 'cell-e') addStray++;
    }
    if (five[i] !== without[i]) removeMoved++;
  }
  const weighted = counts(place(a.build(WEIGHTED), tags));
  const totalWeight = WEIGHTED.reduce((s, c) => s + c.weight, 0);
  const weightError = Math.max(...WEIGHTED.map((c) => Math.abs((weighted.get(c.name) ?? 0) / tags.length / (c.weight / totalWeight) - 1)));
  return {
    addMoved: addMoved / tags.length,
    addStray: addStray / tags.length,
    removeMoved: removeMoved / tags.length,
    maxOverMean5: maxOverMean(counts(five), FIVE.length, tags.length),
    maxOverMean16: maxOverMean(counts(place(a.build(SIXTEEN), tags)), SIXTEEN.length, tags.length),
    weightError,
  };
}

const place = (p: Placement, tags: readonly string[]): string[] => tags.map((t) => p.cellFor(t));

function counts(cells: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of cells) m.set(c, (m.get(c) ?? 0) + 1);
  return m;
}

const maxOverMean = (load: Map<string, number>, cells: number, keys: number): number => Math.max(...load.values()) / (keys / cells);

function cost(a: PlacementAlgorithm, rounds: number, lookups: (config: keyof typeof LOOKUP_CONFIGS) => PerCall): Cost {
  const buildUs = spread(
    Array.from({ length: rounds }, () => {
      const t0 = process.hrtime.bigint();
      a.build(FIVE);
      return Number(process.hrtime.bigint() - t0) / 1000;
    }),
  );
  return {
    equal5: lookups('equal5'),
    weighted5: lookups('weighted5'),
    equal16: lookups('equal16'),
    bytes: retainedBytes(() => a.build(FIVE)),
    buildUs,
  };
}

/**
 * Runs `rounds` rounds of every spec, each round of each spec in a new process running this
 * script with `--child spec`, interleaved; returns each spec's ns per call, round by round.
 */
function perCallRounds(specs: readonly string[], rounds: number): Map<string, number[]> {
  const values = new Map<string, number[]>(specs.map((spec) => [spec, []]));
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`per-call round ${r + 1}/${rounds}\n`);
    for (const spec of specs) {
      const out = execFileSync(process.execPath, [__filename, '--child', spec], { encoding: 'utf8' });
      values.get(spec)?.push(Number(out));
    }
  }
  return values;
}

/**
 * Child side: `lookup:<algorithm index>:<config>` times the lookups of one algorithm on one cell
 * configuration, `lru`, `parse` and `harness` the baselines.
 */
async function measureChild(spec: string): Promise<void> {
  const sdk = await loadSdkRouting();
  const tags = randomTags(WORKING_SET);
  const [kind, index, config] = spec.split(':');
  let fn: (key: string) => unknown;
  let keys: readonly string[] = tags;
  if (kind === 'lookup') {
    const algorithm = algorithms(sdk)[Number(index)];
    const cells = LOOKUP_CONFIGS[config as keyof typeof LOOKUP_CONFIGS] as readonly CellWeight[] | undefined;
    if (algorithm === undefined || cells === undefined) throw new Error(`bad --child ${spec}`);
    const placement = algorithm.build(cells);
    fn = (tag) => placement.cellFor(tag);
  } else {
    keys = tags.map((tag) => sdk.ids.generateSessionId(tag).id);
    fn = baselineCall(sdk, kind, keys);
  }
  process.stdout.write(String(nsPerCall(fn, keys)));
}

/** What routing is compared with, measured in the same run and the same way. */
interface Baseline {
  /** lru-cache `get` hit on a session id, configured like the SDK's near cache. */
  lruGet: PerCall;
  /** The SDK's id parsing (format check + SHA-256 of the secret), the first step of every `get`. */
  parseSessionId: PerCall;
  /** The measuring loop itself, calling a function that does almost nothing. */
  harness: PerCall;
}

function baselineCall(sdk: SdkRouting, kind: string | undefined, ids: readonly string[]): (id: string) => unknown {
  if (kind === 'parse') return (id) => sdk.ids.parseSessionId(id);
  if (kind === 'harness') return (id) => id.length;
  if (kind !== 'lru') throw new Error(`bad --child ${kind}`);
  const lru = new LRUCache<string, { id: string }>({
    max: 2 * ids.length,
    maxSize: 64 << 20,
    sizeCalculation: () => 512,
    ttl: 10 * 60_000,
    updateAgeOnGet: false,
    allowStale: false,
  });
  for (const id of ids) lru.set(id, Object.freeze({ id }));
  return (id) => lru.get(id);
}

/**
 * ns per call of `fn` over `keys`, in one timed pass of ~2M calls after an untimed one that lets
 * the JIT optimise. Every figure goes through this same loop, so its own cost (the harness row)
 * is included in each of them alike.
 */
function nsPerCall(fn: (key: string) => unknown, keys: readonly string[]): number {
  const reps = Math.max(1, Math.ceil(2_000_000 / keys.length));
  let sink = 0;
  const once = (): number => {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < keys.length; i++) if (fn(keys[i] as string) === undefined) sink++;
    }
    return Number(process.hrtime.bigint() - t0) / (reps * keys.length);
  };
  once();
  const ns = once();
  if (sink < 0) process.stderr.write('unreachable\n'); // keeps `sink` (and the calls) alive
  return ns;
}

/** Bytes retained per instance, from heap and array buffers around building 100 of them. */
function retainedBytes(build: () => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return NaN;
  const used = (): number => {
    // Twice: the first collection can leave garbage that the second one frees, which would
    // otherwise show up as negative retained memory.
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  build(); // code and hidden classes created on first use are not per-instance memory
  const before = used();
  const kept = Array.from({ length: 100 }, build);
  const after = used();
  return kept.length > 0 ? (after - before) / kept.length : NaN;
}

type Row = { algorithm: PlacementAlgorithm; quality: Quality; cost: Cost };
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const ns = (s: Spread): string => `${s.median.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})`;
const bytes = (b: number): string => (Number.isNaN(b) ? 'n/a (no --expose-gc)' : b >= 10240 ? `${(b / 1024).toFixed(0)} KiB` : `${b.toFixed(0)} B`);

function qualityTable(rows: readonly Row[]): Table {
  return {
    head: ['algorithm', 'moved 4→5 (ideal 20%)', 'moved between old cells', 'moved removing a middle cell of 5 (ideal 20%)', 'max/mean 5 cells', 'max/mean 16 cells', 'weight error 1:2:3:4', 'weights'],
    rows: rows.map(({ algorithm, quality: q }) => [
      algorithm.name,
      pct(q.addMoved),
      pct(q.addStray),
      pct(q.removeMoved),
      q.maxOverMean5.toFixed(4),
      q.maxOverMean16.toFixed(4),
      pct(q.weightError),
      algorithm.weights,
    ]),
    right: [1, 2, 3, 4, 5, 6],
  };
}

function costTable(rows: readonly Row[], base: Baseline): Table {
  const line = (name: string, f: PerCall, memory = '', build = ''): string[] => [name, ns(f.ns), `${f.perLruGet.median.toFixed(2)}×`, memory, build];
  return {
    head: ['per call', 'ns median (min-max)', 'median ratio to lru-cache get', 'memory (5 cells)', 'build (5 cells)'],
    rows: [
      ...rows.flatMap(({ algorithm: a, cost: c }) => [
        line(`${a.name}: 5 equal cells`, c.equal5, bytes(c.bytes), `${c.buildUs.median.toFixed(0)} µs`),
        line(`${a.name}: 5 cells weighted 1..5`, c.weighted5),
        line(`${a.name}: 16 equal cells`, c.equal16),
      ]),
      line('lru-cache get (hit, near-cache options)', base.lruGet),
      line('SDK parseSessionId (every get)', base.parseSessionId),
      line('measuring loop alone', base.harness),
    ],
    right: [1, 2, 3, 4],
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
