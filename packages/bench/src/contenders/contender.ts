import type { PayloadFactory } from '../payload';

/** What sort of store a contender is: it decides which columns mean something. */
export type ContenderKind = 'sessioncache' | 'redis' | 'memory';

/** Cumulative cache counters of a contender that has a local cache. */
export interface CacheCounters {
  hits: number;
  misses: number;
}

/**
 * One session store under test, driven the way its users drive it. Sessions are addressed by
 * their index 0..n-1 in the population the contender created; each contender keeps its own ids
 * and its own key space, so contenders never see each other's writes.
 */
export interface Contender {
  /** Stable identifier, used in the JSON and the ratio rows. */
  readonly id: string;
  /** Display name. */
  readonly label: string;
  readonly kind: ContenderKind;
  /** One line on how it is configured, for the docs. */
  readonly description: string;
  /** Sessions populated so far. */
  size(): number;
  /** Creates sessions 0..count-1 (skipping those that already exist). */
  populate(count: number, payload: PayloadFactory): Promise<void>;
  /** Reads session `i` and returns its data. */
  get(i: number): Promise<unknown>;
  /** Extends session `i`'s idle timeout. */
  touch(i: number): Promise<unknown>;
  /** Writes the two small attributes of {@link writePatch} to session `i`. */
  update(i: number, n: number): Promise<unknown>;
  /** Creates one new session (not kept in the population). */
  create(n: number): Promise<unknown>;
  /** Cumulative local-cache counters, when the contender has a cache. */
  counters?(): CacheCounters | undefined;
  /** Near-cache bytes and entries now, when the contender reports them. */
  memory?(): { bytes: number; entries: number; maxBytes: number };
  close(): Promise<void>;
}

/**
 * Runs `fn(i)` for i in [from, to) with `concurrency` calls in flight. A failed call is
 * retried a few times: the machine is shared, and a populating write that times out once
 * (commandTimeoutMs) must not end the run.
 */
export async function forEachConcurrent(from: number, to: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      for (let attempt = 1; ; attempt++) {
        try {
          await fn(i);
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(0, to - from)) }, worker));
}
