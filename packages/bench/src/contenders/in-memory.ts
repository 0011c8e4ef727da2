import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { packr, writePatch, type PayloadFactory, type SessionData } from '../payload';
import type { CacheCounters, Contender } from './contender';

/**
 * How an in-memory baseline hands out a hit:
 * - `none`: the cached object itself (the ceiling: unsafe, a caller can corrupt the cache);
 * - `clone`: a structuredClone of it (what node-redis' client-side cache does);
 * - `msgpack`: a fresh msgpack decode of the stored bytes;
 * - `frozen`: the cached object, deep-frozen once when stored.
 * The last three are the "safe hit" baselines the near cache is held to.
 */
export type HitProtection = 'none' | 'clone' | 'msgpack' | 'frozen';

function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  Object.freeze(v);
  for (const x of Object.values(v as object)) deepFreeze(x);
  return v;
}

const LABELS: Record<HitProtection, { label: string; description: string }> = {
  none: { label: 'lru-cache alone', description: 'lru-cache 11 holding decoded objects, returned as they are (the ceiling, unsafe)' },
  clone: { label: 'lru-cache + structuredClone', description: 'lru-cache 11 get + structuredClone of the object (a safe hit, as node-redis CSC does)' },
  msgpack: { label: 'lru-cache + msgpack decode', description: 'lru-cache 11 of msgpack Buffers, decoded on every get (a safe hit)' },
  frozen: { label: 'lru-cache + frozen object', description: 'lru-cache 11 of deep-frozen objects, returned as they are (a safe hit)' },
};

/**
 * Deep-frozen session data by index, shared by the in-memory contenders of one payload size:
 * one copy of the population in the heap instead of one per contender. Three copies of 10,000
 * decoded 16 KB sessions are a heap of gigabytes, and the garbage collector's work on it
 * would be charged to whichever contender happens to run.
 */
export class FrozenDataPool {
  readonly #items: SessionData[] = [];

  constructor(readonly payload: PayloadFactory) {}

  get(i: number): SessionData {
    return (this.#items[i] ??= deepFreeze(this.payload.data(i)));
  }
}

/**
 * A process-local store with nothing behind it: an lru-cache holding every session. It is the
 * ceiling (no network, no invalidation) and, with a protection, the "cheapest safe hit".
 * `get` is an async function like every store's, so the harness pays the same promise per
 * operation for every contender.
 */
export class InMemoryContender implements Contender {
  readonly kind = 'memory' as const;
  readonly id: string;
  readonly label: string;
  readonly description: string;
  readonly #lru: LRUCache<string, object>;
  readonly #keys: string[] = [];
  #template: SessionData = {};
  #hits = 0;
  #misses = 0;

  constructor(
    readonly protection: HitProtection,
    maxEntries: number,
    readonly pool: FrozenDataPool,
  ) {
    this.id = `lru-${protection}`;
    this.label = LABELS[protection].label;
    this.description = LABELS[protection].description;
    this.#lru = new LRUCache<string, object>({ max: maxEntries });
  }

  #encode(data: SessionData): object {
    if (this.protection === 'msgpack') return packr.pack(data);
    if (this.protection === 'frozen') return deepFreeze(data);
    return data;
  }

  size(): number {
    return this.#keys.length;
  }

  async populate(count: number, payload: PayloadFactory): Promise<void> {
    this.#template = payload.data(0);
    for (let i = this.#keys.length; i < count; i++) {
      // Keys of the length of a sessioncache id, so that hashing them costs the same.
      const key = randomBytes(41).toString('base64url');
      // The shared objects are frozen: for 'none' (the ceiling) that changes nothing a get costs.
      this.#lru.set(key, this.#encode(this.pool.get(i)));
      this.#keys.push(key);
    }
  }

  async get(i: number): Promise<unknown> {
    const v = this.#lru.get(this.#keys[i]!);
    if (v === undefined) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    switch (this.protection) {
      case 'clone':
        return structuredClone(v);
      case 'msgpack':
        return packr.unpack(v as Buffer);
      default:
        return v;
    }
  }

  async touch(i: number): Promise<unknown> {
    return this.#lru.has(this.#keys[i]!);
  }

  async update(i: number, n: number): Promise<unknown> {
    this.#lru.set(this.#keys[i]!, this.#encode({ ...this.#template, ...writePatch(n) }));
    return true;
  }

  async create(): Promise<unknown> {
    this.#lru.set(randomBytes(41).toString('base64url'), this.#encode({ ...this.#template }));
    return true;
  }

  counters(): CacheCounters {
    return { hits: this.#hits, misses: this.#misses };
  }

  async close(): Promise<void> {
    this.#lru.clear();
  }
}
