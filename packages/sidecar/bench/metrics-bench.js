#!/usr/bin/env node
'use strict';
// Cost of sessioncache metrics, from the SDK hot path to a sidecar scrape. Prints a table and
// writes bench-results/metrics-bench.json. Needs built packages (npx turbo run build) and
// `node --expose-gc` for the allocation figure.
//   node --expose-gc packages/sidecar/bench/metrics-bench.js
const fs = require('node:fs');
const path = require('node:path');
const { SdkStats, MetricsReporter, OPERATIONS, OPERATION_RESULTS, TIERS } = require('@sessioncache/sdk');
const { startSidecar } = require('..');

/** Stats with every operation and latency series, as a busy SessionCache has. */
function fullStats() {
  const s = new SdkStats();
  for (const op of OPERATIONS) {
    for (const result of OPERATION_RESULTS) s.counter('operations_total', { op, result }).inc(3);
    for (const tier of TIERS) s.histogram('operation_duration_seconds', { op, tier }).observe(0.001);
  }
  s.counter('near_cache_requests_total', { result: 'hit' }).inc();
  s.gauge('near_cache_entries', {}, () => 5);
  return s;
}

function hotPath() {
  const stats = new SdkStats();
  const hit = stats.counter('near_cache_requests_total', { result: 'hit' });
  const lat = stats.histogram('operation_duration_seconds', { op: 'get', tier: 'near' });
  const n = 20_000_000;
  for (let i = 0; i < 1e6; i++) {
    hit.inc();
    lat.observe(0.00002);
  }
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    hit.inc();
    lat.observe(0.000015 + (i & 7) * 0.00001);
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const heapBytesPerCall = (process.memoryUsage().heapUsed - heap0) / n;
  const full = fullStats();
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) full.snapshot();
  const snapshotUs = Number(process.hrtime.bigint() - t1) / 1000 / 1000;
  return { ns, heapBytesPerCall: global.gc ? heapBytesPerCall : undefined, snapshotUs };
}

async function sidecar() {
  const sc = await startSidecar({ listen: { host: '127.0.0.1', port: 0 } });
  try {
    const stats = fullStats();
    let bodyBytes = 0;
    const fetchSpy = (url, init) => {
      bodyBytes = init.body.length;
      return fetch(url, init);
    };
    const reporter = new MetricsReporter({ url: sc.url, stats, worker: 'bench', fetch: fetchSpy });
    for (let i = 0; i < 100; i++) await reporter.flush();
    const n = 2000;
    const ok = stats.counter('operations_total', { op: 'get', result: 'ok' });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      ok.inc();
      await reporter.flush();
    }
    const reportUs = Number(process.hrtime.bigint() - t0) / n / 1000;
    const scrape = async () => {
      await fetch(`${sc.url}/metrics`).then((r) => r.text());
      const t = process.hrtime.bigint();
      let text = '';
      for (let i = 0; i < 20; i++) text = await fetch(`${sc.url}/metrics`).then((r) => r.text());
      return { ms: Number(process.hrtime.bigint() - t) / 20 / 1e6, lines: text.split('\n').length, kib: text.length / 1024 };
    };
    const one = await scrape();
    for (let w = 0; w < 64; w++) await new MetricsReporter({ url: sc.url, stats: fullStats(), worker: `w${w}` }).flush();
    const many = await scrape();
    return { bodyBytes, reportUs, one, many };
  } finally {
    await sc.close();
  }
}

(async () => {
  const h = hotPath();
  const s = await sidecar();
  const rows = [
    ['SDK hot path: counter inc() + histogram observe()', `${h.ns.toFixed(1)} ns`],
    ['  heap growth per call (gc before, none during)', h.heapBytesPerCall === undefined ? 'run with --expose-gc' : `${h.heapBytesPerCall.toFixed(3)} bytes`],
    ['SdkStats.snapshot(), 46 counters + 18 histograms', `${h.snapshotUs.toFixed(1)} µs`],
    ['report body, every series', `${s.bodyBytes} bytes`],
    ['report round trip (diff, POST, validate, apply)', `${s.reportUs.toFixed(0)} µs`],
    [`/metrics, 1 worker (${s.one.lines} lines, ${s.one.kib.toFixed(0)} KiB)`, `${s.one.ms.toFixed(1)} ms`],
    [`/metrics, 65 workers (${s.many.lines} lines, ${s.many.kib.toFixed(0)} KiB)`, `${s.many.ms.toFixed(1)} ms`],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  const out = path.join(__dirname, '..', '..', '..', 'bench-results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(
    path.join(out, 'metrics-bench.json'),
    JSON.stringify({ node: process.version, date: new Date().toISOString(), hotPath: h, sidecar: s }, null, 2),
  );
})();
