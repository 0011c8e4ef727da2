import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseSeeds } from '@sessioncache/devcluster';
import { LATENCY_BUCKETS_SECONDS, MetricsReporter, SdkStats } from '@sessioncache/sdk';
import { startSidecar, type RunningSidecar } from './server';

const seeds = () => parseSeeds(process.env.REDIS_CLUSTER_NODES ?? '');
const packageDir = path.join(__dirname, '..');
const repoRoot = path.join(packageDir, '..', '..');

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Drives one SDK instance's stats the way a cache would, and returns what it counted. */
function workload(stats: SdkStats, hits: number, misses: number) {
  const hit = stats.counter('near_cache_requests_total', { result: 'hit' });
  const miss = stats.counter('near_cache_requests_total', { result: 'miss' });
  const near = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' });
  const redis = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'redis' });
  for (let i = 0; i < hits; i++) {
    hit.inc();
    near.observe(0.00002 * (1 + (i % 3)));
  }
  for (let i = 0; i < misses; i++) {
    miss.inc();
    redis.observe(0.0004 * (1 + (i % 5)));
  }
}

describe('sidecar on a real cluster, with real reporters over HTTP', () => {
  let sidecar: RunningSidecar | undefined;
  afterEach(async () => {
    await sidecar?.close();
    sidecar = undefined;
  });

  it('exposes exactly what two SDK instances counted, plus every node, and passes promtool', async () => {
    sidecar = await startSidecar({ listen: { host: '127.0.0.1', port: 0 }, redisNodes: seeds(), probeIntervalMs: 60_000 });
    await sidecar.app.sidecar.probe.probeOnce();
    const a = new SdkStats();
    const b = new SdkStats();
    a.gauge('near_cache_entries', {}, () => 40);
    b.gauge('near_cache_entries', {}, () => 2);
    const ra = new MetricsReporter({ url: sidecar.url, stats: a, worker: 'web-a' });
    const rb = new MetricsReporter({ url: sidecar.url, stats: b, worker: 'web-b' });
    workload(a, 30, 7);
    workload(b, 5, 11);
    await ra.flush();
    await rb.flush();
    workload(a, 3, 1);
    await ra.flush();
    expect(ra.stats()).toMatchObject({ sent: 2, failed: 0, pending: 0 });

    const text = await scrape(sidecar.url);
    for (const [worker, stats] of [['web-a', a], ['web-b', b]] as const) {
      const snap = stats.snapshot();
      for (const c of snap.counters) {
        if (c.name !== 'near_cache_requests_total') continue;
        expect(sample(text, `sessioncache_near_cache_requests_total{worker="${worker}",result="${c.labels.result}"}`)).toBe(c.value);
      }
      for (const h of snap.histograms) {
        const labels = `worker="${worker}",op="${h.labels.op}",tier="${h.labels.tier}"`;
        expect(sample(text, `sessioncache_operation_duration_seconds_count{${labels}}`)).toBe(h.count);
        let cumulative = 0;
        LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
          cumulative += h.counts[i]!;
          expect(sample(text, `sessioncache_operation_duration_seconds_bucket{${labels},le="${le}"}`)).toBe(cumulative);
        });
      }
    }
    expect(sample(text, 'sessioncache_near_cache_entries{worker="web-a"}')).toBe(40);
    expect(sample(text, 'sessioncache_sidecar_reporters')).toBe(2);
    expect(sample(text, 'sessioncache_sidecar_reports_total{result="accepted"}')).toBe(3);

    for (const s of seeds()) {
      const node = `${s.host}:${s.port}`;
      expect(sample(text, `sessioncache_redis_up{node="${node}"}`)).toBe(1);
      expect(sample(text, `sessioncache_redis_cluster_state{node="${node}"}`)).toBe(1);
      expect(sample(text, `sessioncache_redis_cluster_slots{node="${node}",state="ok"}`)).toBe(16384);
      expect(sample(text, `sessioncache_redis_cluster_known_nodes{node="${node}"}`)).toBe(6);
      expect(sample(text, `sessioncache_redis_ping_duration_seconds_count{node="${node}"}`)).toBe(1);
      expect(sample(text, `sessioncache_redis_keyspace_hits_total{node="${node}"}`)).toBeGreaterThanOrEqual(0);
      expect(sample(text, `sessioncache_redis_memory_used_bytes{node="${node}"}`)).toBeGreaterThan(0);
    }
    expect(text.match(/^sessioncache_redis_role\{node="[^"]+",role="master"\} 1$/gm)).toHaveLength(3);
    expect(text.match(/^sessioncache_redis_role\{node="[^"]+",role="replica"\} 1$/gm)).toHaveLength(3);

    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error).toBeUndefined();
    expect({ status: lint.status, output: lint.stdout + lint.stderr }).toEqual({ status: 0, output: '' });

    const ready = await fetch(`${sidecar.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, nodes: 6, nodesUp: 6 });
    await ra.close();
    await rb.close();
  });

  it('resumes after a sidecar restart on the same port: nothing counted twice, nothing lost but what the old process had', async () => {
    sidecar = await startSidecar({ listen: { host: '127.0.0.1', port: 0 }, redisNodes: seeds(), probeIntervalMs: 60_000 });
    const { port } = new URL(sidecar.url);
    const stats = new SdkStats();
    const hits = stats.counter('near_cache_requests_total', { result: 'hit' });
    const reporter = new MetricsReporter({ url: sidecar.url, stats, worker: 'web-r', timeoutMs: 500 });
    hits.inc(10);
    await reporter.flush();
    await sidecar.close();
    sidecar = undefined;

    hits.inc(5);
    await reporter.flush(); // refused: kept for later, not an error for the app
    expect(reporter.stats()).toMatchObject({ failed: 1, pending: 1, dropped: 0 });

    sidecar = await startSidecar({ listen: { host: '127.0.0.1', port: Number(port) }, redisNodes: seeds(), probeIntervalMs: 60_000 });
    hits.inc(1);
    await reporter.flush();
    expect(reporter.stats().pending).toBe(0);
    // The new sidecar process starts its series from what it receives: 5 + 1.
    const text = await scrape(sidecar.url);
    expect(sample(text, 'sessioncache_near_cache_requests_total{worker="web-r",result="hit"}')).toBe(6);
    await reporter.close();
  });
});

describe('sessioncache-sidecar binary', () => {
  const bin = path.join(packageDir, 'bin', 'sessioncache-sidecar.js');
  const children: ChildProcess[] = [];
  beforeAll(() => {
    if (!fs.existsSync(path.join(packageDir, 'dist', 'cli.js'))) {
      throw new Error('packages/sidecar/dist is missing: build first (npx turbo run build)');
    }
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  function run(args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += String(d)));
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, out: () => stdout, err: () => stderr };
  }

  async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, proc: ReturnType<typeof run>, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && proc.child.exitCode === null) {
      const v = await fn();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`gave up waiting for ${what}; sidecar exit ${proc.child.exitCode}, stderr: ${proc.err()}`);
  }

  it('starts from flags and environment, serves, becomes ready and stops cleanly on SIGTERM', async () => {
    const p = run(['--listen', '127.0.0.1:0', '--probe-interval', '500ms'], { SESSIONCACHE_REDIS_NODES: process.env.REDIS_CLUSTER_NODES });
    const url = await until('the listening log line', () => {
      for (const line of p.out().split('\n')) {
        if (line.includes('sessioncache-sidecar listening')) return (JSON.parse(line) as { url: string }).url;
      }
      return undefined;
    }, p);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await until('readiness', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), p);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^sessioncache_redis_up\{node="[^"]+"\} 1$/m);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('exits 2 with a clear message on bad configuration and 1 when the port is taken', async () => {
    const missing = run([]);
    expect(await missing.exited).toBe(2);
    expect(missing.err()).toMatch(/Invalid --redis: is required/);

    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as net.AddressInfo;
      const busy = run(['--listen', `127.0.0.1:${port}`, '--redis', process.env.REDIS_CLUSTER_NODES!]);
      expect(await busy.exited).toBe(1);
      expect(busy.err()).toMatch(/SC_ERR_SIDECAR_LISTEN/);
    } finally {
      taken.close();
    }
  });

  it('a started reporter never keeps the application process alive', async () => {
    const sdk = path.join(repoRoot, 'packages', 'sdk', 'dist', 'index.js');
    const sidecarProc = run(['--listen', '127.0.0.1:0', '--redis', process.env.REDIS_CLUSTER_NODES!]);
    const url = await until('the listening log line', () =>
      sidecarProc
        .out()
        .split('\n')
        .filter((l) => l.includes('sessioncache-sidecar listening'))
        .map((l) => (JSON.parse(l) as { url: string }).url)[0],
      sidecarProc,
    );
    // The app reports once (a keep-alive connection to the sidecar stays open), then has nothing
    // left to do: it must exit on its own.
    const script = `
      const { SdkStats, MetricsReporter } = require(${JSON.stringify(sdk)});
      const stats = new SdkStats();
      stats.counter('near_cache_requests_total', { result: 'hit' }).inc();
      const r = new MetricsReporter({ url: ${JSON.stringify(url)}, stats, worker: 'exit-test', intervalMs: 1000 });
      r.start();
      r.flush().then(() => console.log(JSON.stringify(r.stats())));
    `;
    const app = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(app);
    let out = '';
    app.stdout!.on('data', (d) => (out += String(d)));
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      new Promise<number | null>((resolve) => app.on('exit', (c) => resolve(c))),
      new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 15_000))),
    ]).finally(() => clearTimeout(timer));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ sent: 1, failed: 0 });
  });
});
