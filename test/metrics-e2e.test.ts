/**
 * End to end: two real SessionCache instances on the integration cluster report to a real
 * sidecar process. The test drives a known workload and checks that what /metrics shows is
 * exactly what the SDKs counted; then it kills the sidecar (SIGKILL) in the middle of a
 * workload, checks the app neither fails nor slows, restarts the sidecar on the same port and
 * checks every count arrives exactly once across the two sidecar processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseSeeds } from '@sessioncache/devcluster';
import { MetricsReporter, SessionCache, type StatsSnapshot } from '@sessioncache/sdk';

const root = path.join(__dirname, '..');
const sidecarBin = path.join(root, 'packages', 'sidecar', 'bin', 'sessioncache-sidecar.js');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The sidecar as a real process, so it can be killed like in production. */
async function startSidecarProcess(port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [sidecarBin, '--listen', `127.0.0.1:${port}`, '--redis', process.env.REDIS_CLUSTER_NODES!, '--probe-interval', '1s', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sidecar exited ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`sidecar did not start: ${stderr}`);
}

async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Every counter and histogram count of the SDK families for one worker, from /metrics text. */
function sidecarView(text: string, worker: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^sessioncache_([a-z_]+?)(_count)?\\{worker="${worker}"(?:,([^}]*))?\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const [, name, count, labels, value] = m;
    if (name!.endsWith('_bucket') || name!.endsWith('_sum')) continue;
    out.set(`${name}${count ? '#count' : ''}{${labels ?? ''}}`, Number(value));
  }
  return out;
}

/** The same keys computed from an SDK snapshot (counters and histogram counts). */
function sdkView(snap: StatsSnapshot): Map<string, number> {
  const fmt = (labels: Readonly<Record<string, string>>) =>
    Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
  const out = new Map<string, number>();
  for (const c of snap.counters) out.set(`${c.name}{${fmt(c.labels)}}`, c.value);
  for (const h of snap.histograms) out.set(`${h.name}#count{${fmt(h.labels)}}`, h.count);
  return out;
}

function minus(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  return new Map([...a].map(([k, v]) => [k, v - (b.get(k) ?? 0)]));
}

function pick(view: Map<string, number>, keys: Iterable<string>): Record<string, number> {
  return Object.fromEntries([...keys].map((k) => [k, view.get(k) ?? 0]));
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('metrics end to end: SessionCache -> reporter -> sidecar process -> /metrics', () => {
  let port: number;
  let sidecar: ChildProcess | undefined;
  const caches: SessionCache[] = [];
  const reporters: MetricsReporter[] = [];

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'packages', 'sidecar', 'dist', 'cli.js'))) {
      throw new Error('packages/sidecar/dist is missing: build first (npx turbo run build)');
    }
  });
  afterAll(async () => {
    for (const r of reporters) await r.close();
    for (const c of caches) await c.close();
    await stopProcess(sidecar, 'SIGKILL');
  });

  /**
   * A cache whose metrics go to the sidecar. The reporter is attached to `cache.metrics` the way
   * the `metrics: { sidecar }` option does it; intervalMs is short so the test runs quickly.
   */
  async function connect(worker: string): Promise<{ cache: SessionCache; reporter: MetricsReporter }> {
    const cache = await SessionCache.connect({ redis: { cluster: parseSeeds(process.env.REDIS_CLUSTER_NODES!) } });
    const reporter = new MetricsReporter({ url: `http://127.0.0.1:${port}`, stats: cache.metrics, worker, intervalMs: 100, timeoutMs: 500 });
    reporter.start();
    caches.push(cache);
    reporters.push(reporter);
    return { cache, reporter };
  }

  /** Per session: one create, `reads` gets; plus `unknown` gets of ids that do not exist. */
  async function workload(cache: SessionCache, sessions: number, reads: number, unknown: number): Promise<number[]> {
    const latencies: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < sessions; i++) ids.push((await cache.create({ data: { n: i } })).id);
    for (let r = 0; r < reads; r++) {
      for (const id of ids) {
        const t0 = process.hrtime.bigint();
        const s = await cache.get(id);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        expect(s?.data).toBeDefined();
      }
    }
    for (let i = 0; i < unknown; i++) {
      const ghost = await cache.create({ data: {} });
      await cache.destroy(ghost.id);
      expect(await cache.get(ghost.id)).toBeNull();
    }
    return latencies;
  }

  it('counts exactly, survives a sidecar kill without failing or slowing the app, and resumes', async () => {
    port = await freePort();
    sidecar = await startSidecarProcess(port);
    const a = await connect('e2e-a');
    const b = await connect('e2e-b');

    // Phase 1: known workload, sidecar up.
    const upLatencies = await workload(a.cache, 20, 50, 4);
    await workload(b.cache, 10, 5, 2);
    await a.reporter.flush();
    await b.reporter.flush();
    const old = await scrape(port);
    const oldA = sidecarView(old, 'e2e-a');
    const oldB = sidecarView(old, 'e2e-b');
    const sdkA1 = sdkView(a.cache.metrics.snapshot());
    const sdkB1 = sdkView(b.cache.metrics.snapshot());
    // What the SDK counted is exactly what the sidecar shows, series by series.
    expect(pick(oldA, sdkA1.keys())).toEqual(Object.fromEntries(sdkA1));
    expect(pick(oldB, sdkB1.keys())).toEqual(Object.fromEntries(sdkB1));
    // And it is the workload: 20 + 4 creates, 1000 + 4 gets of which 4 found nothing.
    expect(oldA.get('operations_total{op="create",result="ok"}')).toBe(24);
    expect(oldA.get('operations_total{op="get",result="ok"}')).toBe(1000);
    expect(oldA.get('operations_total{op="get",result="not_found"}')).toBe(4);
    expect((oldA.get('operation_duration_seconds#count{op="get",tier="near"}') ?? 0) + (oldA.get('operation_duration_seconds#count{op="get",tier="redis"}') ?? 0)).toBe(1004);
    expect(oldB.get('operations_total{op="get",result="ok"}')).toBe(50);
    expect(old).toMatch(/^sessioncache_sidecar_reporters 2$/m);

    // Phase 2: kill the sidecar while the app keeps working.
    await stopProcess(sidecar, 'SIGKILL');
    const downLatencies = await workload(a.cache, 20, 50, 4);
    await workload(b.cache, 5, 2, 1);
    await new Promise((r) => setTimeout(r, 300)); // a few report intervals fail in the background
    expect(a.reporter.stats().failed).toBeGreaterThan(0);
    expect(a.reporter.stats().pending).toBeGreaterThan(0);
    expect(a.reporter.stats().dropped).toBe(0);

    // App A restarts while its sidecar is down: its undelivered deltas go with the old process
    // (counted as pending, never delivered twice); the new process reports under the same worker.
    await a.reporter.close();
    expect(a.reporter.stats().pending).toBeGreaterThan(0);
    await a.cache.close();
    const a2 = await connect('e2e-a');
    await workload(a2.cache, 3, 1, 0);

    // Phase 3: the sidecar comes back on the same port.
    sidecar = await startSidecarProcess(port);
    await a2.reporter.flush();
    await b.reporter.flush();
    const fresh = await scrape(port);
    // B's deltas from the outage arrived exactly once: the new sidecar process shows what B
    // counted since the old one's last scrape (Prometheus sees a counter reset, not a negative rate).
    const sdkB2 = sdkView(b.cache.metrics.snapshot());
    expect(pick(sidecarView(fresh, 'e2e-b'), sdkB2.keys())).toEqual(Object.fromEntries(minus(sdkB2, oldB)));
    // The restarted A: everything it counted, in the e2e-a series.
    const sdkA2 = sdkView(a2.cache.metrics.snapshot());
    expect(pick(sidecarView(fresh, 'e2e-a'), sdkA2.keys())).toEqual(Object.fromEntries(sdkA2));
    expect(sdkA2.get('operations_total{op="get",result="ok"}')).toBe(3);

    const up = [...upLatencies].sort((x, y) => x - y);
    const down = [...downLatencies].sort((x, y) => x - y);
    // Reported, not asserted: timings vary by machine. The reporter never runs on the request path.
    console.log(
      `get latency with sidecar up: p50 ${percentile(up, 0.5).toFixed(3)} ms, p99 ${percentile(up, 0.99).toFixed(3)} ms; ` +
        `sidecar killed: p50 ${percentile(down, 0.5).toFixed(3)} ms, p99 ${percentile(down, 0.99).toFixed(3)} ms ` +
        `(${up.length} / ${down.length} gets)`,
    );
  });
});
