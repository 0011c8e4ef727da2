import * as path from 'node:path';

/** Parts of the run, in the order they run. */
export const SECTIONS = ['mixed', 'concurrency', 'uniform', 'write-heavy', 'large', 'hit-path', 'redis-path', 'scale', 'instances', 'lag', 'http'] as const;
export type Section = (typeof SECTIONS)[number];

/** Options of a benchmark run (see {@link QUICK_OPTIONS} and {@link FULL_OPTIONS}). */
export interface BenchOptions {
  quick: boolean;
  /** Measured rounds per contender; contenders alternate within each round. */
  rounds: number;
  /** Length of one measured round, ms. */
  roundMs: number;
  /** Unmeasured warm-up of each contender before its first round, ms. */
  warmMs: number;
  /** Operations in flight. */
  inflight: number;
  /** Sessions of the 1 KB workloads. */
  sessions: number;
  /** Sessions of the 16 KB workload. */
  largeSessions: number;
  /** Zipf exponent. */
  zipfS: number;
  /** Populations of the scale section. */
  scaleSessions: number[];
  /** SDK instance counts of the fan-out section. */
  instances: number[];
  /** Samples of the cross-instance invalidation lag, idle and under load. */
  lagSamples: number;
  /** Operations per tight-loop pass of the hit-path section. */
  tightLoopOps: number;
  /** Seconds per autocannon run of the HTTP section, and its rounds. */
  httpSeconds: number;
  httpRounds: number;
  /** Replicas per master of the cluster the run starts. */
  replicas: number;
  seed: number;
  /** Sections to run (all by default). */
  only: Section[];
  /** Directory of the JSON results. */
  outDir: string;
  /** Markdown report to write, or undefined to skip it. */
  docsPath: string | undefined;
  /** Directory for CPU profiles of the HTTP servers' measured rounds, or undefined. */
  cpuProfDir: string | undefined;
  /** Render the report from this results file instead of running (see --from-json). */
  fromJson: string | undefined;
  /** The command line, as recorded in the report. */
  command: string;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Defaults of the full run (well under 20 minutes on 2 cores). */
export const FULL_OPTIONS: Readonly<BenchOptions> = Object.freeze({
  quick: false,
  rounds: 5,
  roundMs: 1000,
  warmMs: 1000,
  inflight: 64,
  sessions: 50_000,
  largeSessions: 10_000,
  zipfS: 1.1,
  scaleSessions: [10_000, 100_000, 1_000_000],
  instances: [1, 2, 4, 8],
  lagSamples: 2000,
  tightLoopOps: 100_000,
  httpSeconds: 3,
  httpRounds: 5,
  replicas: 0,
  seed: 42,
  only: [...SECTIONS],
  outDir: path.join(REPO_ROOT, 'bench-results'),
  docsPath: path.join(REPO_ROOT, 'docs', 'benchmarks.md'),
  cpuProfDir: undefined,
  fromJson: undefined,
  command: 'npm run -w @sessioncache/bench bench',
});

/**
 * What `--quick` changes (about 2 minutes): shorter rounds and smaller populations (creating
 * sessions through the SDK is what takes longest), for a smoke run with indicative numbers.
 */
export const QUICK_OPTIONS: Readonly<Partial<BenchOptions>> = Object.freeze({
  quick: true,
  rounds: 3,
  roundMs: 300,
  warmMs: 100,
  sessions: 20_000,
  largeSessions: 1_000,
  scaleSessions: [10_000, 20_000],
  lagSamples: 200,
  tightLoopOps: 30_000,
  httpSeconds: 1,
  httpRounds: 2,
});

/** The text of `--help`. */
export const USAGE = `Usage: npm run -w @sessioncache/bench bench -- [options]

  --quick               short run (~2 min): shorter rounds, 20,000 instead of 50,000 sessions, ...
  --rounds N            measured rounds per contender (contenders alternate in each round)
  --round-ms MS         length of a measured round
  --warm-ms MS          warm-up per contender before its first round
  --inflight N          operations in flight (default 64)
  --sessions N          sessions of the 1 KB workloads (default 50000)
  --large-sessions N    sessions of the 16 KB workload
  --scale N,N,...       populations of the scale section
  --instances N,N,...   SDK instance counts of the fan-out section
  --replicas N          replicas per master of the cluster started for the run (default 0)
  --only a,b,...        sections: ${SECTIONS.join(', ')}
  --seed N              seed of the key and operation streams
  --out DIR             directory of the JSON results (default <repo>/bench-results)
  --docs PATH           markdown report (default <repo>/docs/benchmarks.md)
  --no-docs             do not write the markdown report
  --cpu-prof DIR        write CPU profiles of the HTTP servers' measured rounds to DIR
  --from-json FILE      run nothing: rewrite the markdown report from a results file
  --help`;

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) throw new TypeError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function intList(name: string, v: string | undefined): number[] {
  if (v === undefined || v === '') throw new TypeError(`${name} needs a comma-separated list of integers`);
  return v.split(',').map((x) => int(name, x, 1));
}

/** An option's path, resolved against the working directory; a missing one is refused (not read as "."). */
function filePath(name: string, v: string | undefined): string {
  if (v === undefined || v === '') throw new TypeError(`${name} needs a path`);
  return path.resolve(v);
}

/** Path options: the field they set. */
const PATH_OPTIONS: Readonly<Record<string, 'outDir' | 'docsPath' | 'cpuProfDir' | 'fromJson'>> = {
  '--out': 'outDir',
  '--docs': 'docsPath',
  '--cpu-prof': 'cpuProfDir',
  '--from-json': 'fromJson',
};

/** Integer options: the field they set and their minimum. */
const INT_OPTIONS: Readonly<Record<string, readonly [keyof BenchOptions, number]>> = {
  '--rounds': ['rounds', 1],
  '--round-ms': ['roundMs', 50],
  '--warm-ms': ['warmMs', 0],
  '--inflight': ['inflight', 1],
  '--sessions': ['sessions', 100],
  '--large-sessions': ['largeSessions', 100],
  '--replicas': ['replicas', 0],
  '--seed': ['seed', 0],
};

/** Parses the command line; throws a TypeError naming the bad option. Returns undefined for --help. */
export function parseArgs(argv: readonly string[]): BenchOptions | undefined {
  const set: Partial<BenchOptions> = {};
  let quick = false;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const v = (): string | undefined => argv[++k];
    switch (a) {
      case '--help':
      case '-h':
        return undefined;
      case '--quick':
        quick = true;
        break;
      case '--scale':
        set.scaleSessions = intList(a, v());
        break;
      case '--instances':
        set.instances = intList(a, v());
        break;
      case '--only': {
        const list = (v() ?? '').split(',').filter(Boolean);
        const bad = list.filter((s) => !(SECTIONS as readonly string[]).includes(s));
        if (list.length === 0 || bad.length > 0) throw new TypeError(`--only takes sections among ${SECTIONS.join(', ')}; got ${JSON.stringify(bad.join(',') || '')}`);
        set.only = list as Section[];
        break;
      }
      case '--no-docs':
        set.docsPath = undefined;
        break;
      default: {
        const field = PATH_OPTIONS[a];
        const spec = INT_OPTIONS[a];
        if (field) set[field] = filePath(a, v());
        else if (spec) (set as Record<string, number>)[spec[0]] = int(a, v(), spec[1]);
        else throw new TypeError(`unknown option ${JSON.stringify(a)}\n\n${USAGE}`);
      }
    }
  }
  const command = ['npm run -w @sessioncache/bench bench', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  return { ...FULL_OPTIONS, ...(quick ? QUICK_OPTIONS : {}), ...set, command } as BenchOptions;
}
