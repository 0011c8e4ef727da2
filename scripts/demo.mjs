#!/usr/bin/env node
// The README's main job (`npm start`): builds what it needs, starts a local 3+3 Redis Cluster,
// the metrics sidecar and two instances of the example app, drives realistic traffic at them
// for ~20 s with a progress line, prints a summary (requests, near-cache hit rate, latency per
// tier, invalidations, the /metrics address) and stops everything it started (by pid), at the
// end or on Ctrl-C. `--keep` leaves it all running until Ctrl-C.
//
//   node scripts/demo.mjs [--duration S] [--keep] [--no-build] [--app express|fastify]
//                         [--users N] [--concurrency N] [--summary-json FILE]
//   DEMO_DURATION=S also sets the duration.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

// --- options ------------------------------------------------------------------------------

const USAGE = `Usage: npm start -- [options]   (or node scripts/demo.mjs [options])
  --duration S        seconds of traffic (default 20, or $DEMO_DURATION)
  --keep              keep the cluster, sidecar and apps running after the summary, until Ctrl-C
  --no-build          skip the build (dist/ must be current)
  --app NAME          express (default) or fastify
  --users N           distinct users (default 1000); their popularity follows a Zipf law
  --concurrency N     requests in flight (default 16)
  --summary-json F    also write the summary as JSON to F
  -h, --help          this text`;

function parseArgs(argv) {
  const o = { duration: Number(process.env.DEMO_DURATION || 20), keep: false, build: true, app: 'express', users: 1000, concurrency: 16, summaryJson: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--duration') o.duration = Number(value());
    else if (a === '--keep') o.keep = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--app') o.app = value();
    else if (a === '--users') o.users = Number(value());
    else if (a === '--concurrency') o.concurrency = Number(value());
    else if (a === '--summary-json') o.summaryJson = path.resolve(value());
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${a}\n${USAGE}`);
  }
  if (!(o.duration > 0 && o.duration <= 3600)) fail('--duration must be between 0 and 3600 seconds');
  if (!['express', 'fastify'].includes(o.app)) fail('--app must be express or fastify');
  if (!(Number.isInteger(o.users) && o.users >= 1 && o.users <= 1_000_000)) fail('--users must be an integer from 1 to 1000000');
  if (!(Number.isInteger(o.concurrency) && o.concurrency >= 1 && o.concurrency <= 1024)) fail('--concurrency must be an integer from 1 to 1024');
  return o;
}

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const tty = process.stdout.isTTY === true;
const fmt = new Intl.NumberFormat('en-US');
const log = (s = '') => console.log(s);

// --- what it starts, and stopping it --------------------------------------------------------

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessioncache-demo-'));
/** @type {Array<{ name: string, child: import('node:child_process').ChildProcess }>} */
const children = [];
/** The cluster, once DevCluster.start was called (awaited by stopAll even if still starting). */
let clusterStarting;
let phase = 'starting';
let stopping;
let loadAbort = new AbortController();

function stopChild({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Stops what this run started, apps first (so their last metric reports go out), then the rest. */
function stopAll() {
  stopping ??= (async () => {
    phase = 'stopping';
    loadAbort.abort();
    const apps = children.filter((c) => c.name.startsWith('app'));
    await Promise.all(apps.map(stopChild));
    await Promise.all(children.filter((c) => !apps.includes(c)).map(stopChild));
    const cluster = await clusterStarting?.catch(() => undefined);
    if (cluster) await cluster.stop().catch((err) => console.error(`demo: stopping the cluster: ${err.message}`));
  })();
  return stopping;
}

let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (++interrupts > 1) {
      // A second Ctrl-C: do not wait for anything, but still only kill what we started.
      for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
      process.exit(130);
    }
    if (tty) process.stdout.write('\n');
    log(phase === 'keeping' ? 'Stopping...' : 'Interrupted: stopping everything this demo started...');
    stopAll().then(() => {
      fs.rmSync(runDir, { recursive: true, force: true });
      log('Stopped.');
      process.exit(phase === 'keeping' ? 0 : 130);
    });
  });
}

// --- helpers ------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a node process whose output goes to a log file in the run directory. */
function startNode(name, args, env) {
  if (phase === 'stopping') throw new Interrupted();
  const logFile = path.join(runDir, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  children.push({ name, child, logFile });
  return { child, logFile };
}

async function waitHealthy(name, url, child, logFile, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    checkInterrupted();
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; see ${logFile}:\n${tail(logFile)}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${name} did not become healthy within ${timeoutMs / 1000} s; see ${logFile}:\n${tail(logFile)}`);
}

function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown to unwind main() after Ctrl-C: the signal handler stops everything and exits. */
class Interrupted extends Error {}
const checkInterrupted = () => {
  if (phase === 'stopping') throw new Interrupted();
};

// --- traffic ------------------------------------------------------------------------------

/** Zipf(s) popularity over `n` users: a cumulative table sampled by binary search. */
function zipf(n, s = 1.0) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  return () => {
    const u = Math.random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const SKUS = ['apple', 'pear', 'fig', 'kiwi', 'plum', 'lime', 'date', 'mango', 'grape', 'melon'];

/**
 * The traffic: users (Zipf popularity) browse from one of two devices, each a cookie jar.
 * Logged out: sometimes fill an anonymous cart, then log in. Logged in: mostly profile and
 * cart reads, some cart writes, now and then the session list, a logout, or a "log out
 * everywhere" (which also ends the user's other device). Every request goes to a random
 * instance: no affinity, the hardest case for the near cache.
 */
async function drive(urls, durationMs, onTick) {
  const pickUser = zipf(opts.users);
  const users = Array.from({ length: opts.users }, (_, i) => ({ name: `user${i}`, devices: [{ cookie: undefined }, { cookie: undefined }] }));
  const stats = { requests: 0, byRoute: new Map(), byStatus: new Map(), errors: 0, latenciesMs: [] };
  const deadline = Date.now() + durationMs;
  const signal = loadAbort.signal;

  async function request(device, method, p, body) {
    const url = urls[Math.floor(Math.random() * urls.length)] + p;
    const t0 = performance.now();
    let status = 0;
    try {
      const res = await fetch(url, {
        method,
        headers: { ...(device.cookie ? { cookie: device.cookie } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
      });
      await res.arrayBuffer();
      status = res.status;
      for (const line of res.headers.getSetCookie()) {
        const pair = line.split(';')[0];
        if (/^[^=]+=$/.test(pair) || /max-age=0/i.test(line)) device.cookie = undefined;
        else device.cookie = pair;
      }
      if (status === 401) device.cookie = undefined;
    } catch {
      if (signal.aborted) return 0;
      stats.errors++;
    }
    stats.latenciesMs.push(performance.now() - t0);
    stats.requests++;
    const route = `${method} ${p.replace(/\/sessions\/.*/, '/sessions/:handle')}`;
    stats.byRoute.set(route, (stats.byRoute.get(route) ?? 0) + 1);
    const cls = status === 0 ? 'error' : status === 401 ? '401' : `${Math.floor(status / 100)}xx`;
    stats.byStatus.set(cls, (stats.byStatus.get(cls) ?? 0) + 1);
    return status;
  }

  async function step() {
    const user = users[pickUser()];
    const device = user.devices[Math.random() < 0.8 ? 0 : 1];
    if (!device.cookie) {
      if (Math.random() < 0.3) await request(device, 'POST', '/cart', { sku: SKUS[Math.floor(Math.random() * SKUS.length)], qty: 1 });
      await request(device, 'POST', '/login', { username: user.name });
      return;
    }
    const r = Math.random();
    if (r < 0.75) await request(device, 'GET', '/profile');
    else if (r < 0.92) await request(device, 'GET', '/cart');
    else if (r < 0.96) await request(device, 'POST', '/cart', { sku: SKUS[Math.floor(Math.random() * SKUS.length)], qty: 1 });
    else if (r < 0.975) await request(device, 'GET', '/sessions');
    else if (r < 0.995) {
      await request(device, 'POST', '/logout');
      device.cookie = undefined;
    } else {
      await request(device, 'POST', '/logout-everywhere');
      device.cookie = undefined;
    }
  }

  const ticker = setInterval(() => onTick(stats, deadline), 1000);
  try {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (Date.now() < deadline && !signal.aborted) await step();
      }),
    );
  } finally {
    clearInterval(ticker);
  }
  return stats;
}

// --- summary ------------------------------------------------------------------------------

const percentile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '-';
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(0)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  return `${seconds.toFixed(2)} s`;
}

async function appStats(url) {
  const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}/stats answered ${res.status}`);
  return res.json();
}

function summarize(sdk, traffic, instances, sidecarText, metricsUrl, seconds) {
  const { mergeHistograms, summarizeLatency } = sdk;
  const tier = (tierName, ops) =>
    summarizeLatency(mergeHistograms(instances.flatMap((i) => i.histograms.filter((h) => h.labels.tier === tierName && ops.includes(h.labels.op)))));
  const hits = instances.reduce((n, i) => n + i.stats.nearCache.hits, 0);
  const misses = instances.reduce((n, i) => n + i.stats.nearCache.misses, 0);
  const sorted = Float64Array.from(traffic.latenciesMs).sort();
  const reportedHits = [...sidecarText.matchAll(/^sessioncache_near_cache_requests_total\{[^}]*result="hit"[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const status = Object.fromEntries(traffic.byStatus);
  return {
    app: opts.app,
    durationSec: seconds,
    users: opts.users,
    concurrency: opts.concurrency,
    requests: traffic.requests,
    requestsPerSec: traffic.requests / seconds,
    status,
    serverErrors: (status['5xx'] ?? 0) + (status.error ?? 0),
    byRoute: Object.fromEntries([...traffic.byRoute].sort((a, b) => b[1] - a[1])),
    httpLatencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) },
    nearCache: {
      hitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
      hits,
      misses,
      perInstance: instances.map((i) => ({ hitRate: i.stats.nearCache.hitRate, entries: i.stats.nearCache.entries, mode: i.stats.nearCache.mode })),
    },
    sessionReads: { near: tier('near', ['get']), redis: tier('redis', ['get']) },
    sessionWrites: tier('redis', ['create', 'update', 'destroy', 'regenerate', 'destroy_all_for_user']),
    invalidations: instances.reduce((n, i) => n + i.stats.nearCache.invalidations, 0),
    invalidationLag: instances.map((i) => i.stats.nearCache.invalidationLag),
    operations: instances.map((i) => i.stats.operations),
    metricsUrl,
    sidecar: { nearCacheHitsReported: reportedHits, series: sidecarText.split('\n').filter((l) => l.startsWith('sessioncache_')).length },
  };
}

function printSummary(s, clusterSeeds, urls) {
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  const lat = (l) => `p50 ${duration(l.p50)}  p99 ${duration(l.p99)}  (${fmt.format(l.count)})`;
  const lag = s.invalidationLag.filter((l) => l.count > 0);
  log('');
  log(`sessioncache demo: ${s.durationSec.toFixed(1)} s of traffic, 2 × ${s.app} app, 3+3 Redis Cluster, ${fmt.format(s.users)} users (Zipf), ${s.concurrency} in flight`);
  log(`  requests              ${fmt.format(s.requests)}  (${fmt.format(Math.round(s.requestsPerSec))}/s)   ${Object.entries(s.status).map(([k, v]) => `${k} ${fmt.format(v)}`).join('  ')}`);
  log(`  by route              ${Object.entries(s.byRoute).map(([k, v]) => `${k} ${fmt.format(v)}`).join(' · ')}`);
  log(`  HTTP latency          p50 ${s.httpLatencyMs.p50?.toFixed(2)} ms  p99 ${s.httpLatencyMs.p99?.toFixed(2)} ms  (client side, both instances)`);
  log(`  near-cache hit rate   ${pct(s.nearCache.hitRate)}  (${fmt.format(s.nearCache.hits)} hits, ${fmt.format(s.nearCache.misses)} misses; per instance ${s.nearCache.perInstance.map((i) => pct(i.hitRate)).join(', ')}; ${s.nearCache.perInstance[0]?.mode})`);
  log(`  session reads, near   ${lat(s.sessionReads.near)}`);
  log(`  session reads, Redis  ${lat(s.sessionReads.redis)}`);
  log(`  session writes        ${lat(s.sessionWrites)}`);
  log(`  invalidations         ${fmt.format(s.invalidations)} received${lag.length ? `; own write to invalidation p50 ${duration(Math.max(...lag.map((l) => l.p50)))}, p99 ${duration(Math.max(...lag.map((l) => l.p99)))}` : ''}`);
  log(`  metrics               ${s.metricsUrl}  (sidecar: ${fmt.format(s.sidecar.series)} sessioncache_* series, ${fmt.format(s.sidecar.nearCacheHitsReported)} near-cache hits reported so far)`);
  log(`  apps                  ${urls.join('  ')}   cluster ${clusterSeeds}`);
}

// --- main ---------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  const appPkg = `@sessioncache/example-${opts.app}-app`;
  if (opts.build) {
    log(`Building ${appPkg}, the sidecar and the devcluster (turbo)...`);
    const filters = [`--filter=${appPkg}...`, '--filter=@sessioncache/sidecar...', '--filter=@sessioncache/devcluster...'];
    const build = spawnSync(path.join(root, 'node_modules', '.bin', 'turbo'), ['run', 'build', ...filters, '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) fail('the build failed');
  }
  const appServer = path.join(root, 'examples', `${opts.app}-app`, 'dist', 'server.js');
  const sidecarBin = path.join(root, 'packages', 'sidecar', 'bin', 'sessioncache-sidecar.js');
  for (const f of [appServer, path.join(root, 'packages', 'devcluster', 'dist', 'index.js'), path.join(root, 'packages', 'sdk', 'dist', 'index.js')]) {
    if (!fs.existsSync(f)) fail(`${path.relative(root, f)} is missing: run \`npm run build\` (or drop --no-build)`);
  }
  const { DevCluster } = require(path.join(root, 'packages', 'devcluster', 'dist', 'index.js'));
  const sdk = require(path.join(root, 'packages', 'sdk', 'dist', 'index.js'));

  log('Starting a 3-master/3-replica Redis Cluster on 127.0.0.1...');
  clusterStarting = DevCluster.start({ masters: 3, replicas: 1, dir: path.join(runDir, 'cluster') });
  const cluster = await clusterStarting;
  checkInterrupted();
  const seeds = cluster.seeds;
  log(`  ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${seeds}`);

  const sidecarPort = await freePort();
  const sidecar = startNode('sidecar', [sidecarBin, '--listen', `127.0.0.1:${sidecarPort}`, '--redis', seeds, '--probe-interval', '1s', '--log-level', 'warn'], {});
  const metricsUrl = `http://127.0.0.1:${sidecarPort}/metrics`;
  await waitHealthy('sidecar', `http://127.0.0.1:${sidecarPort}/healthz`, sidecar.child, sidecar.logFile);
  log(`Sidecar (pid ${sidecar.child.pid}): ${metricsUrl}`);

  const secret = randomBytes(32).toString('base64url');
  const tagSecret = randomBytes(24).toString('base64url');
  const urls = [];
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const app = startNode(`app-${name}`, [appServer], {
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_CLUSTER_NODES: seeds,
      SESSIONCACHE_SIDECAR_URL: `http://127.0.0.1:${sidecarPort}`,
      SESSIONCACHE_METRICS_INTERVAL_MS: '1000',
      SESSIONCACHE_WORKER: `demo-${name}`,
      SESSION_SECRET: secret,
      SESSIONCACHE_USER_TAG_SECRET: tagSecret,
      NODE_ENV: 'production',
    });
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(`app ${name}`, `${url}/healthz`, app.child, app.logFile);
    urls.push(url);
    log(`App ${name} (${opts.app}, pid ${app.child.pid}): ${url}`);
  }
  checkInterrupted();

  phase = 'load';
  log(`Driving traffic for ${opts.duration} s (${fmt.format(opts.users)} users, ${opts.concurrency} in flight, random instance per request)...`);
  let last = { t: Date.now(), n: 0 };
  const started = Date.now();
  const traffic = await drive(urls, opts.duration * 1000, async (stats, deadline) => {
    const now = Date.now();
    const rate = ((stats.requests - last.n) * 1000) / (now - last.t);
    last = { t: now, n: stats.requests };
    const nears = await Promise.all(urls.map((u) => appStats(u).then((s) => s.stats.nearCache, () => null)));
    const hits = nears.reduce((n, s) => n + (s?.hits ?? 0), 0);
    const misses = nears.reduce((n, s) => n + (s?.misses ?? 0), 0);
    const hitRate = hits + misses ? ((hits / (hits + misses)) * 100).toFixed(1) : '0.0';
    const bad = (stats.byStatus.get('5xx') ?? 0) + stats.errors;
    const left = Math.max(0, Math.ceil((deadline - now) / 1000));
    const line = `  ${String(Math.round((now - started) / 1000)).padStart(3)} s  ${fmt.format(stats.requests).padStart(9)} requests  ${fmt.format(Math.round(rate)).padStart(6)}/s  near-cache hit ${hitRate}%  5xx/errors ${bad}  (${left} s left)`;
    if (phase !== 'load') return;
    if (tty) process.stdout.write(`\r${line.padEnd(110)}`);
    else if (Math.round((now - started) / 1000) % 5 === 0) log(line);
  });
  if (tty) process.stdout.write('\n');
  checkInterrupted();
  const seconds = (Date.now() - started) / 1000;

  // Let the apps' last metric reports (every second) reach the sidecar before scraping it.
  await sleep(1500);
  const instances = await Promise.all(urls.map(appStats));
  const sidecarText = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => '');
  const summary = summarize(sdk, traffic, instances, sidecarText, metricsUrl, seconds);
  summary.pids = children.map((c) => ({ name: c.name, pid: c.child.pid }));
  summary.clusterPids = (await cluster.status().catch(() => [])).map((n) => n.pid).filter(Boolean);
  printSummary(summary, seeds, urls);
  if (opts.summaryJson) fs.writeFileSync(opts.summaryJson, `${JSON.stringify(summary, null, 2)}\n`);

  if (opts.keep) {
    phase = 'keeping';
    log('');
    log(`Still running (--keep). Try:  curl -s ${urls[0]}/stats | head -c 300;  curl -s ${metricsUrl} | grep near_cache`);
    log(`  logs in ${runDir}. Press Ctrl-C to stop everything.`);
    await new Promise(() => undefined);
  }
  log('');
  log('Stopping the apps, the sidecar and the cluster...');
  await stopAll();
  fs.rmSync(runDir, { recursive: true, force: true });
  log('Stopped.');
}

main().then(
  () => process.exit(0),
  async (err) => {
    // After Ctrl-C the signal handler owns the shutdown (and the exit code).
    if (err instanceof Interrupted || phase === 'stopping') return;
    console.error(`\ndemo failed: ${err?.stack ?? err}`);
    await stopAll();
    console.error(`logs kept in ${runDir}`);
    process.exit(1);
  },
);
