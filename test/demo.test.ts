/**
 * The README's main job, `npm start` (scripts/demo.mjs), run for real in its short mode: its
 * own Redis Cluster, the sidecar and two example-app processes, real traffic, a summary with a
 * non-zero near-cache hit rate, and nothing left running afterwards, whether it ends by itself
 * or by Ctrl-C. Needs the build (`npm test` builds first; alone: `npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..');

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runDemo(args: string[]): Run {
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'demo.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

let running: ChildProcess | undefined;
afterEach(() => {
  // Only if a test failed midway: the demo's own Ctrl-C path still stops what it started.
  if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGINT');
  running = undefined;
});

it('short mode: drives traffic, prints a summary with a non-zero near-cache hit rate, stops everything', async () => {
  const json = path.join(os.tmpdir(), `sessioncache-demo-summary-${process.pid}.json`);
  const run = runDemo(['--duration', '5', '--no-build', '--summary-json', json]);
  running = run.child;
  const { code } = await run.exited;
  const text = run.output();
  expect({ code, tail: text.slice(-3000) }).toEqual({ code: 0, tail: expect.stringContaining('Stopped.') });

  const rate = /near-cache hit rate\s+([\d.]+)%/.exec(text);
  expect(rate).not.toBeNull();
  expect(Number(rate![1])).toBeGreaterThan(0);
  expect(text).toMatch(/metrics\s+http:\/\/127\.0\.0\.1:\d+\/metrics/);
  expect(text).toMatch(/session reads, near\s+p50 \S+ \S+\s+p99/);

  const summary = JSON.parse(fs.readFileSync(json, 'utf8'));
  fs.rmSync(json, { force: true });
  expect(summary.requests).toBeGreaterThan(50);
  expect(summary.nearCache.hitRate).toBeGreaterThan(0);
  expect(summary.serverErrors).toBe(0);
  expect(summary.invalidations).toBeGreaterThan(0);
  // The SDK's reports reached the sidecar: /metrics shows the near-cache hits.
  expect(summary.sidecar.nearCacheHitsReported).toBeGreaterThan(0);
  const pids: number[] = [...summary.pids.map((p: { pid: number }) => p.pid), ...summary.clusterPids];
  expect(pids.length).toBe(3 + 6);
  expect(pids.filter(alive)).toEqual([]);
}, 180_000);

it('Ctrl-C stops the apps, the sidecar and the cluster it started', async () => {
  const run = runDemo(['--duration', '300', '--no-build']);
  running = run.child;
  const deadline = Date.now() + 120_000;
  while (!/Driving traffic/.test(run.output())) {
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start its traffic:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const text = run.output();
  const pids = [...text.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  const seeds = /ready in [\d.]+ s: (\S+)/.exec(text)![1]!.split(',').map((s) => Number(s.split(':')[1]));
  expect(pids).toHaveLength(3);
  expect(seeds).toHaveLength(6);

  run.child.kill('SIGINT');
  const { code } = await run.exited;
  expect(code).toBe(130);
  expect(run.output()).toContain('Stopped.');
  expect(pids.filter(alive)).toEqual([]);
  const open = await Promise.all(seeds.map(accepts));
  expect(open).toEqual(seeds.map(() => false));
}, 180_000);
