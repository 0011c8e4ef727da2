import type { ContenderKind } from './contenders/contender';
import type { OpMix, RoundResult } from './runner';
import { ratio, spread, type Spread } from './summary';

/** Medians and ranges of one contender over its rounds. */
export interface ContenderSummary {
  opsPerSec: Spread;
  p50: Spread;
  p99: Spread;
  cpuUsPerOp: Spread;
  redisCpuUsPerOp: Spread;
  hitRate: Spread;
  /** Local-cache misses per update (reads that waited for Redis because of a write), NaN without a cache or updates. */
  missesPerUpdate: Spread;
  errors: number;
  firstError?: string;
}

/** One contender on one workload: every round and their summary. */
export interface ContenderResult {
  id: string;
  label: string;
  kind: ContenderKind;
  description: string;
  rounds: RoundResult[];
  summary: ContenderSummary;
  /** Anything section-specific (near-cache memory, invalidation counts...). */
  extra?: Record<string, unknown>;
}

/** A ratio of medians between two contenders of one workload. */
export interface RatioRow {
  of: string;
  to: string;
  /** ops/s of `of` over ops/s of `to` (above 1: `of` is faster). */
  throughput: number;
  /** CPU per operation (this process) of `to` over `of` (above 1: `of` is cheaper). */
  cpu: number;
}

/** What defines a workload, shared by its definition and its result. */
export interface WorkloadInfo {
  id: string;
  section: string;
  title: string;
  description: string;
  sessions: number;
  payloadBytes: number;
  mix: OpMix;
  picker: string;
}

/** One workload: its definition and every contender's result. */
export interface WorkloadResult extends WorkloadInfo {
  contenders: ContenderResult[];
  ratios: RatioRow[];
  notes?: string[];
}

/** Summarizes rounds into medians with min-max. */
export function summarize(rounds: readonly RoundResult[]): ContenderSummary {
  const pick = (f: (r: RoundResult) => number): Spread => spread(rounds.map(f));
  const firstError = rounds.find((r) => r.firstError)?.firstError;
  return {
    opsPerSec: pick((r) => r.opsPerSec),
    p50: pick((r) => r.p50),
    p99: pick((r) => r.p99),
    cpuUsPerOp: pick((r) => r.cpuUsPerOp),
    redisCpuUsPerOp: pick((r) => r.redisCpuUsPerOp),
    hitRate: pick((r) => r.hitRate),
    missesPerUpdate: pick((r) => (r.opCounts.update > 0 ? (r.opCounts.get * (1 - r.hitRate)) / r.opCounts.update : NaN)),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

/** Ratios of each `heads` contender against every other contender of the workload. */
export function ratiosOf(results: readonly ContenderResult[], heads: readonly string[]): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const h of heads) {
    const a = results.find((r) => r.id === h);
    if (!a) continue;
    for (const b of results) {
      if (b.id === h) continue;
      rows.push({
        of: a.id,
        to: b.id,
        throughput: ratio(a.summary.opsPerSec.median, b.summary.opsPerSec.median),
        cpu: ratio(b.summary.cpuUsPerOp.median, a.summary.cpuUsPerOp.median),
      });
    }
  }
  return rows;
}
