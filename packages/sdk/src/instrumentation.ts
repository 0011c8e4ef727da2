import { ERROR_CODES, type ErrorCode } from './errors';
import { OPERATIONS, OPERATION_RESULTS, type Operation, type OperationResult, type Tier } from './metrics/catalog';
import type { CounterHandle, HistogramHandle, SdkStats } from './metrics/stats';

/**
 * Pre-built metric handles for every (operation, result) and (operation, tier), so that the
 * hot path only indexes arrays: no label objects, no map lookups, no allocation.
 */
export class Instrumentation {
  readonly #ops: CounterHandle[][];
  readonly #latency: HistogramHandle[][];
  readonly #errors = new Map<string, CounterHandle>();
  readonly #getOk: CounterHandle;
  readonly #getNear: HistogramHandle;

  constructor(readonly stats: SdkStats) {
    this.#ops = OPERATIONS.map((op) => OPERATION_RESULTS.map((result) => stats.counter('operations_total', { op, result })));
    this.#latency = OPERATIONS.map((op) => [stats.histogram('operation_duration_seconds', { op, tier: 'near' }), stats.histogram('operation_duration_seconds', { op, tier: 'redis' })]);
    for (const code of ERROR_CODES) this.#errors.set(code, stats.counter('errors_total', { code }));
    this.#getOk = this.#ops[OPERATIONS.indexOf('get')]![OPERATION_RESULTS.indexOf('ok')]!;
    this.#getNear = this.#latency[OPERATIONS.indexOf('get')]![0]!;
  }

  /** The hottest path of all, a near-cache hit of `get`, with its handles resolved in advance. */
  nearGetHit(startMs: number): void {
    this.#getOk.inc();
    this.#getNear.observeSince(startMs);
  }

  /** A clock reading to pass to {@link done}. */
  start(): number {
    return this.stats.now();
  }

  /** Records one finished operation. */
  done(op: Operation, tier: Tier, result: OperationResult, startMs: number): void {
    const i = OPERATIONS.indexOf(op);
    this.#ops[i]![OPERATION_RESULTS.indexOf(result)]!.inc();
    this.#latency[i]![tier === 'near' ? 0 : 1]!.observeSince(startMs);
  }

  /** Counts an error by its stable code (unknown codes are ignored: labels stay bounded). */
  error(code: string): void {
    this.#errors.get(code as ErrorCode)?.inc();
  }
}

/** Maps an error to the `result` label of operations_total. */
export function resultOf(err: unknown): OperationResult {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'SC_ERR_VERSION_CONFLICT') return 'conflict';
  if (code === 'SC_ERR_SESSION_NOT_FOUND') return 'not_found';
  if (code === 'SC_ERR_INVALID_SESSION_ID' || code === 'SC_ERR_INVALID_ARGUMENT' || code === 'SC_ERR_PAYLOAD_TOO_LARGE' || code === 'SC_ERR_SESSION_LIMIT') {
    return 'rejected';
  }
  return 'error';
}
