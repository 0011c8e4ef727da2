import { SessionCache, type ConnectOptions } from '@sessioncache/sdk';
import { writePatch, type PayloadFactory } from '../payload';
import { forEachConcurrent, type CacheCounters, type Contender } from './contender';

/**
 * Session lifetimes of every sessioncache instance of the run. A population created in one
 * burst would otherwise come due all at once: with the default 30 min idle timeout, every
 * session's idle-timeout refresh falls due `touchFraction` (10%) later, 3 minutes into the run,
 * and every near-cache entry expires `maxTtlMs` (60 s) after it was primed, all together. A
 * real population has neither synchronized storm (sessions are created and read at all
 * times), so the run keeps both out of its window (4 h idle: refresh due after 24 min; 30 min
 * local TTL). Their steady-state cost is small and stated in docs/benchmarks.md.
 */
export const BENCH_LIFETIMES = Object.freeze({ idleTimeoutSec: 4 * 3600, nearCacheMaxTtlMs: 30 * 60_000 });

/** Options of a {@link SessionCacheContender}. */
export interface SessionCacheContenderOptions {
  id: string;
  label: string;
  seeds: Array<{ host: string; port: number }>;
  /** Key prefix: its own key space, so that no other contender's writes invalidate it. */
  keyPrefix: string;
  /** Passed to SessionCache.connect as a user would (everything else at its default). */
  nearCache?: ConnectOptions['nearCache'];
  description: string;
}

/** sessioncache through its public API: `SessionCache.connect({ redis: { cluster } })`. */
export class SessionCacheContender implements Contender {
  readonly kind = 'sessioncache' as const;
  readonly id: string;
  readonly label: string;
  readonly description: string;
  /** Ids of the population, by index. */
  ids: string[] = [];
  #cache: SessionCache | undefined;
  #payload: PayloadFactory | undefined;

  constructor(readonly options: SessionCacheContenderOptions) {
    this.id = options.id;
    this.label = options.label;
    this.description = options.description;
  }

  /** Connects (idempotent). */
  async open(): Promise<this> {
    this.#cache ??= await SessionCache.connect({
      redis: { cluster: this.options.seeds },
      keyPrefix: this.options.keyPrefix,
      idleTimeoutSec: BENCH_LIFETIMES.idleTimeoutSec,
      nearCache: { maxTtlMs: BENCH_LIFETIMES.nearCacheMaxTtlMs, ...this.options.nearCache },
    });
    return this;
  }

  get cache(): SessionCache {
    if (!this.#cache) throw new Error(`${this.id} is not connected`);
    return this.#cache;
  }

  size(): number {
    return this.ids.length;
  }

  async populate(count: number, payload: PayloadFactory): Promise<void> {
    await this.open();
    this.#payload = payload;
    const from = this.ids.length;
    this.ids.length = Math.max(count, from);
    await forEachConcurrent(from, count, 128, async (i) => {
      this.ids[i] = (await this.cache.create({ data: payload.data(i) })).id;
    });
  }

  get(i: number): Promise<unknown> {
    return this.cache.get(this.ids[i]!);
  }

  touch(i: number): Promise<unknown> {
    return this.cache.touch(this.ids[i]!);
  }

  update(i: number, n: number): Promise<unknown> {
    return this.cache.update(this.ids[i]!, writePatch(n));
  }

  create(n: number): Promise<unknown> {
    return this.cache.create({ data: this.#payload!.data(n) });
  }

  counters(): CacheCounters | undefined {
    const s = this.cache.stats().nearCache;
    return s.enabled ? { hits: s.hits, misses: s.misses } : undefined;
  }

  /** Invalidations this instance's near cache received so far. */
  invalidations(): number {
    return this.cache.stats().nearCache.invalidations;
  }

  memory(): { bytes: number; entries: number; maxBytes: number } {
    const s = this.cache.stats().nearCache;
    return { bytes: s.bytes, entries: s.entries, maxBytes: this.cache.options.nearCache.maxBytes };
  }

  async close(): Promise<void> {
    await this.#cache?.close();
    this.#cache = undefined;
  }
}
