import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where and with what a run happened, for the report. */
export interface MachineInfo {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  redisServer: string;
  gitCommit: string;
  packages: Record<string, string>;
  loadAverage: { start: number[]; end?: number[] };
}

/** Packages whose versions the report records. */
const PACKAGES = ['@sessioncache/sdk', 'ioredis', 'lru-cache', 'msgpackr', 'connect-redis', 'redis', 'express', 'express-session', 'autocannon'];

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return 'unknown';
  }
}

/** Version of an installed package as this package resolves it. */
function versionOf(name: string): string {
  try {
    // The package.json export may be closed: walk up from the resolved entry point instead.
    let dir = path.dirname(require.resolve(name));
    for (let k = 0; k < 6; k++) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      } catch {
        // not here: go up
      }
      dir = path.dirname(dir);
    }
  } catch {
    // not installed
  }
  return 'unknown';
}

/** The 1, 5 and 15 minute load averages, to two decimals. */
export function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Collects the machine, tool and package versions. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const redis = run(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--version']);
  return {
    date: new Date().toISOString(),
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redisServer: /v=(\S+)/.exec(redis)?.[1] ?? redis,
    gitCommit: run('git', ['-C', __dirname, 'rev-parse', '--short', 'HEAD']),
    packages: Object.fromEntries(PACKAGES.map((p) => [p, versionOf(p)])),
    loadAverage: { start: loadAverage() },
  };
}
