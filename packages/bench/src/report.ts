import { cheapestSafeHitNs, type HitPathResult } from './hit-path';
import type { HttpResult } from './http/driver';
import type { LagResult } from './lag';
import type { ContenderResult, WorkloadResult } from './results';
import { formatNs, formatPercent, formatRate, formatRatio, formatSpread, type Spread } from './summary';
import type { TargetCheck } from './targets';
import type { Table } from './table';

const us = (x: number): string => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)} µs` : '-');

/** ops/s, p50, p99 and CPU per operation of a contender: the first columns of every table. */
function speedCells(s: ContenderResult['summary']): string[] {
  return [formatSpread(s.opsPerSec, formatRate), formatSpread(s.p50, formatNs), formatSpread(s.p99, formatNs), formatSpread(s.cpuUsPerOp, us)];
}

/** The main table of a workload: one row per contender, medians with min–max. */
export function workloadTable(w: WorkloadResult): Table {
  // Misses per update: only where a cache meets writes (how many reads each write sends to Redis).
  const perUpdate = w.mix.update > 0 && w.mix.get > 0 && w.contenders.some((c) => c.kind !== 'memory' && c.summary.hitRate.n > 0);
  const rows = w.contenders.map((c: ContenderResult) => {
    const s = c.summary;
    const row = [
      c.label,
      ...speedCells(s),
      formatSpread(s.redisCpuUsPerOp, us),
      c.kind !== 'memory' && s.hitRate.n === 0 ? 'n/a' : formatSpread(s.hitRate, formatPercent),
    ];
    if (perUpdate) row.push(c.kind !== 'memory' && s.missesPerUpdate.n > 0 ? formatSpread(s.missesPerUpdate, (x) => x.toFixed(1)) : '-');
    row.push(s.errors > 0 ? `${s.errors} (${s.firstError ?? ''})` : '0');
    return row;
  });
  return {
    head: ['contender', 'ops/s', 'p50', 'p99', 'CPU/op (node)', 'CPU/op (redis)', 'hit rate', ...(perUpdate ? ['misses per update'] : []), 'errors'],
    rows,
    right: perUpdate ? [1, 2, 3, 4, 5, 6, 7] : [1, 2, 3, 4, 5, 6],
  };
}

/** Ratios of the head contenders against every other: throughput and CPU per operation. */
export function ratioTable(w: WorkloadResult): Table {
  const label = (id: string): string => w.contenders.find((c) => c.id === id)?.label ?? id;
  return {
    head: ['', 'vs', 'throughput', 'CPU/op (node)'],
    rows: w.ratios.map((r) => [label(r.of), label(r.to), formatRatio(r.throughput), formatRatio(r.cpu)]),
    right: [2, 3],
  };
}

/** Tight-loop cost of a hit per contender, and the steps of a hit measured alone. */
export function hitPathTables(h: HitPathResult): { tightLoop: Table; anatomy: Table } {
  const safe = cheapestSafeHitNs(h);
  return {
    tightLoop: {
      head: ['contender', 'ns per hit', 'vs cheapest safe hit'],
      rows: h.tightLoop.map((t) => [t.label, formatSpread(t.nsPerOp, formatNs), formatRatio(t.nsPerOp.median / safe)]),
      right: [1, 2],
    },
    anatomy: {
      head: ['step', 'ns per call'],
      rows: h.anatomy.map((a) => [a.step, formatSpread(a.nsPerOp, formatNs)]),
      right: [1],
    },
  };
}

const mib = (b: number): string => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(1)} MiB` : '-');

/** Scale: throughput and near-cache memory per population size. */
export function scaleTable(w: WorkloadResult): Table {
  return {
    head: ['sessions', 'ops/s', 'p50', 'p99', 'CPU/op (node)', 'hit rate', 'best possible hit rate', 'near-cache bytes', 'maxBytes', 'entries'],
    rows: w.contenders.map((c) => {
      const x = (c.extra ?? {}) as { nearBytes?: Spread; nearEntries?: Spread; maxBytes?: number; idealHitRate?: number };
      return [
        c.label,
        ...speedCells(c.summary),
        formatSpread(c.summary.hitRate, formatPercent),
        formatPercent(x.idealHitRate ?? NaN),
        x.nearBytes ? formatSpread(x.nearBytes, mib) : '-',
        mib(x.maxBytes ?? NaN),
        x.nearEntries ? formatSpread(x.nearEntries, (v) => Math.round(v).toLocaleString('en-US')) : '-',
      ];
    }),
    right: [1, 2, 3, 4, 5, 6, 7, 8, 9],
  };
}

/** Fan-out: aggregate figures per instance count. */
export function instancesTable(w: WorkloadResult): Table {
  return {
    head: ['instances', 'ops/s (all)', 'p50', 'p99', 'CPU/op (node)', 'CPU/op (redis)', 'hit rate', 'invalidations per update'],
    rows: w.contenders.map((c) => {
      const x = (c.extra ?? {}) as { invalidationsPerUpdate?: Spread };
      return [
        c.label,
        ...speedCells(c.summary),
        formatSpread(c.summary.redisCpuUsPerOp, us),
        formatSpread(c.summary.hitRate, formatPercent),
        x.invalidationsPerUpdate ? formatSpread(x.invalidationsPerUpdate, (v) => v.toFixed(2)) : '-',
      ];
    }),
    right: [1, 2, 3, 4, 5, 6, 7],
  };
}

const ms = (x: number | null): string => (x === null || !Number.isFinite(x) ? '-' : formatNs(x * 1e6));

/** Invalidation lag distributions. */
export function lagTable(l: LagResult): Table {
  const row = (name: string, d: LagResult['idle']): string[] => [
    name,
    String(d.samples),
    ms(d.p50),
    ms(d.p90),
    ms(d.p99),
    ms(d.max),
    String(d.beforeAck),
    String(d.stale),
    String(d.timedOut),
  ];
  const own = l.sdkOwnWrites;
  const s = (x: number | null): number | null => (x === null ? null : x * 1000);
  return {
    head: ['measure', 'samples', 'p50', 'p90', 'p99', 'max', 'seen before ack', 'stale reads', 'timed out'],
    rows: [
      row('cross-instance, idle (A writes, B drops its copy)', l.idle),
      row(
        `cross-instance, under load (${formatRate(l.loadOpsPerSec)} ops/s on a third instance; event-loop delay p50 ${ms(l.loadEventLoopDelayMs.p50)}, p99 ${ms(l.loadEventLoopDelayMs.p99)})`,
        l.loaded,
      ),
      ['SDK own measure, writer (stats().nearCache.invalidationLag, histogram)', String(own.count), ms(s(own.p50)), ms(s(own.p90)), ms(s(own.p99)), '-', '-', '-', '-'],
    ],
    right: [1, 2, 3, 4, 5, 6, 7, 8],
  };
}

/** Express end to end. */
export function httpTable(h: HttpResult): Table {
  return {
    head: ['store', 'requests/s', 'p50', 'p99', 'server CPU/req', 'redis CPU/req', 'hit rate', 'non-2xx', 'errors'],
    rows: h.contenders.map((c) => [
      c.label,
      formatSpread(c.requestsPerSec, formatRate),
      formatSpread(c.p50Ms, ms),
      formatSpread(c.p99Ms, ms),
      formatSpread(c.serverCpuUsPerReq, us),
      formatSpread(c.redisCpuUsPerReq, us),
      c.store === 'connect-redis' ? 'n/a' : formatSpread(c.hitRate, formatPercent),
      String(c.non2xx),
      String(c.errors),
    ]),
    right: [1, 2, 3, 4, 5, 6, 7, 8],
  };
}

/** The targets this run measured, with their verdicts (missed ones in bold in markdown). */
export function targetsTable(checks: readonly TargetCheck[], markdown = false): Table {
  return {
    head: ['target', 'measured', 'bound', 'verdict'],
    rows: checks
      .filter((c) => c.met !== undefined || c.verdict.startsWith('skipped'))
      .map((c) => [c.target, c.measured, c.bound, markdown && c.met === false ? `**${c.verdict}**` : c.verdict]),
  };
}
