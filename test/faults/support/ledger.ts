import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SessionCache, SessionCacheError } from '@sessioncache/sdk';
import { sleep } from './cluster';

/**
 * What the workload was told about one session. Each session has exactly one writer (the
 * instance that created it), which writes a counter `n` = 1, 2, 3... one write at a time, so
 * "acknowledged" has one meaning: the highest `n` whose update resolved.
 */
export interface TrackedSession {
  readonly id: string;
  /** Index of the instance that created it and is its only writer. */
  readonly owner: number;
  /** Highest `n` whose write resolved (0: the create). */
  acked: number;
  /** Highest `n` sent (a failed write may or may not have been applied). */
  attempted: number;
  /** `acked`: a destroy resolved, the session must stay gone. */
  destroy: 'none' | 'attempted' | 'acked';
  busy: boolean;
}

/** One call's outcome, counted by operation and by result (`ok` or the error's code). */
export type Outcomes = Record<string, Record<string, number>>;

/** Results of checking the ledger against what Redis holds after the fault. */
export interface LedgerCheck {
  sessions: number;
  acknowledgedWrites: number;
  lostCreates: number;
  /** Acknowledged updates missing (the stored counter is below the acknowledged one). */
  lostUpdates: number;
  /** Acknowledged destroys undone (the session is readable again). */
  lostDestroys: number;
  /** Stored values that were never written (above the highest attempt): must be 0. */
  phantoms: number;
  examples: string[];
}

/**
 * A mixed workload over several SessionCache instances: reads of any session, updates,
 * creates and destroys of the instance's own sessions. Every error must be a typed
 * SessionCacheError; anything else is collected in `untyped`.
 */
export class MixedWorkload {
  readonly sessions: TrackedSession[] = [];
  readonly outcomes: Outcomes[];
  readonly untyped: unknown[] = [];
  /** The first messages seen per error code, for the figures. */
  readonly errorSamples: Record<string, string[]> = {};
  /** Reads of sessions `watched` matches: when they failed and succeeded. */
  readonly watchedReads: Array<{ failures: number; lastFailureAt: number; successesAfterLastFailure: number; lastError?: string }>;
  watched: (id: string) => boolean = () => false;
  acknowledgedWrites = 0;
  #stopped = false;
  #running: Promise<void>[] = [];

  constructor(
    readonly caches: readonly SessionCache[],
    readonly concurrency = 8,
  ) {
    this.outcomes = caches.map(() => ({}));
    this.watchedReads = caches.map(() => ({ failures: 0, lastFailureAt: 0, successesAfterLastFailure: 0 }));
  }

  /** Creates `perInstance` sessions on every instance before the load starts. */
  async seed(perInstance: number): Promise<void> {
    await Promise.all(
      this.caches.map(async (_, i) => {
        for (let k = 0; k < perInstance; k += 50) {
          await Promise.all(Array.from({ length: Math.min(50, perInstance - k) }, () => this.#create(i)));
        }
      }),
    );
  }

  start(): void {
    this.#stopped = false;
    for (let i = 0; i < this.caches.length; i++) {
      for (let w = 0; w < this.concurrency; w++) this.#running.push(this.#worker(i));
    }
  }

  /** Stops the load and waits for every call in flight to settle. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running.splice(0));
  }

  #count(i: number, op: string, result: string): void {
    const byOp = (this.outcomes[i]![op] ??= {});
    byOp[result] = (byOp[result] ?? 0) + 1;
  }

  #failed(i: number, op: string, err: unknown): void {
    if (err instanceof SessionCacheError) {
      this.#count(i, op, err.code);
      const samples = (this.errorSamples[err.code] ??= []);
      if (samples.length < 3 && !samples.includes(err.message)) samples.push(err.message);
    } else {
      this.#count(i, op, 'untyped');
      this.untyped.push(err);
    }
  }

  /** Runs one call of instance `i`, counting its outcome under `op`; true when it resolved. */
  async #call(i: number, op: string, fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      this.#count(i, op, 'ok');
      return true;
    } catch (err) {
      this.#failed(i, op, err);
      return false;
    }
  }

  async #create(i: number): Promise<void> {
    await this.#call(i, 'create', async () => {
      const s = await this.caches[i]!.create({ data: { n: 0, owner: i } });
      this.sessions.push({ id: s.id, owner: i, acked: 0, attempted: 0, destroy: 'none', busy: false });
      this.acknowledgedWrites++;
    });
  }

  /**
   * Runs `write` on one of instance `i`'s own sessions, which is busy (no other write) meanwhile;
   * false when the write failed (true when there was nothing to write).
   */
  async #writeOwn(i: number, op: 'update' | 'destroy', write: (s: TrackedSession) => Promise<void>): Promise<boolean> {
    const s = this.#pickOwn(i);
    if (!s) return true;
    s.busy = true;
    try {
      return await this.#call(i, op, async () => {
        await write(s);
        this.acknowledgedWrites++;
      });
    } finally {
      s.busy = false;
    }
  }

  #pickOwn(i: number): TrackedSession | undefined {
    for (let tries = 0; tries < 8; tries++) {
      const s = this.sessions[Math.floor(Math.random() * this.sessions.length)];
      if (s && s.owner === i && !s.busy && s.destroy === 'none') return s;
    }
    return undefined;
  }

  async #worker(i: number): Promise<void> {
    const cache = this.caches[i]!;
    let n = 0;
    while (!this.#stopped) {
      const r = Math.random();
      let failed = false;
      if (r < 0.5) {
        const s = this.sessions[Math.floor(Math.random() * this.sessions.length)];
        if (s) {
          const watched = this.watched(s.id);
          try {
            await cache.get(s.id);
            this.#count(i, 'get', 'ok');
            if (watched) this.watchedReads[i]!.successesAfterLastFailure++;
          } catch (err) {
            failed = true;
            this.#failed(i, 'get', err);
            if (watched) {
              const w = this.watchedReads[i]!;
              w.failures++;
              w.lastFailureAt = performance.now();
              w.successesAfterLastFailure = 0;
              w.lastError = err instanceof Error ? err.message : String(err);
            }
          }
        }
      } else if (r < 0.85) {
        failed = !(await this.#writeOwn(i, 'update', async (s) => {
          const next = ++s.attempted;
          await cache.update(s.id, { n: next });
          s.acked = Math.max(s.acked, next);
        }));
      } else if (r < 0.95) {
        await this.#create(i);
      } else {
        failed = !(await this.#writeOwn(i, 'destroy', async (s) => {
          s.destroy = 'attempted';
          await cache.destroy(s.id);
          s.destroy = 'acked';
        }));
      }
      // Errors come back at once while Redis is down: do not spin; and let sockets be read.
      if (failed) await sleep(5);
      else if (++n % 16 === 0) await yieldToLoop();
    }
  }

  /**
   * Compares every session with what `reader` (a fresh instance without near cache) reads now:
   * acknowledged creates and updates must be there, acknowledged destroys must stay done.
   */
  async check(reader: SessionCache): Promise<LedgerCheck> {
    const out: LedgerCheck = { sessions: this.sessions.length, acknowledgedWrites: this.acknowledgedWrites, lostCreates: 0, lostUpdates: 0, lostDestroys: 0, phantoms: 0, examples: [] };
    for (let k = 0; k < this.sessions.length; k += 200) {
      const batch = this.sessions.slice(k, k + 200);
      const read = await reader.getMany(batch.map((s) => s.id));
      batch.forEach((s, j) => {
        const got = read[j];
        const n = got ? (got.data.n as number) : undefined;
        if (s.destroy === 'acked') {
          if (got) {
            out.lostDestroys++;
            out.examples.push(`destroyed session of instance ${s.owner} is back with n=${n}`);
          }
          return;
        }
        if (s.destroy === 'attempted') return; // outcome unknown
        if (n === undefined) {
          out.lostCreates++;
          out.lostUpdates += s.acked;
          if (out.examples.length < 10) out.examples.push(`session of instance ${s.owner} missing; acknowledged n=${s.acked}`);
        } else if (n < s.acked) {
          out.lostUpdates += s.acked - n;
          if (out.examples.length < 10) out.examples.push(`session of instance ${s.owner}: stored n=${n}, acknowledged n=${s.acked}, attempted ${s.attempted}`);
        } else if (n > s.attempted) {
          out.phantoms++;
        }
      });
    }
    return out;
  }
}

/** Sums outcomes of all instances: `{ op: { result: count } }`. */
export function sumOutcomes(all: readonly Outcomes[]): Outcomes {
  const out: Outcomes = {};
  for (const o of all) {
    for (const [op, results] of Object.entries(o)) {
      const t = (out[op] ??= {});
      for (const [r, c] of Object.entries(results)) t[r] = (t[r] ?? 0) + c;
    }
  }
  return out;
}
