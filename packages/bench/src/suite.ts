import type { DevCluster } from '@sessioncache/devcluster';
import { forEachConcurrent, type Contender } from './contenders/contender';
import { ConnectRedisContender } from './contenders/connect-redis';
import { FrozenDataPool, InMemoryContender, type HitProtection } from './contenders/in-memory';
import { IoredisRawContender } from './contenders/ioredis-raw';
import { SessionCacheContender } from './contenders/sessioncache';
import type { BenchOptions } from './options';
import { PayloadFactory } from './payload';
import { ratiosOf, summarize, type ContenderResult, type WorkloadInfo, type WorkloadResult } from './results';
import { runRound, type RoundResult } from './runner';
import { createRng, cyclicPicker, uniformPicker, ZipfSampler, type Rng } from './zipf';

/** Contenders of the micro workloads. */
export const CONTENDER_IDS = [
  'sc-near',
  'sc-near-default',
  'sc-nonear',
  'ioredis',
  'connect-redis',
  'node-redis-csc',
  'lru-none',
  'lru-clone',
  'lru-msgpack',
  'lru-frozen',
] as const;
export type ContenderId = (typeof CONTENDER_IDS)[number];

/** How a workload picks the session of each operation. */
export type PickerKind = 'zipf' | 'uniform' | 'cyclic';

/** A workload of the micro sections: one op mix over one population, several contenders. */
export interface WorkloadDef extends WorkloadInfo {
  picker: PickerKind;
  contenders: readonly ContenderId[];
  /** Contenders whose ratios against the others are reported. */
  heads: readonly ContenderId[];
  /** Operations in flight (default: the run's). */
  inflight?: number;
  notes?: string[];
}

/** Sessions in Redis under one key prefix, by index. */
export interface Population {
  ids: string[];
  keyPrefix: string;
}

/** Section-specific additions to {@link Suite.alternate}. */
export interface AlternateHooks {
  /** One session picker per contender (default: the workload's picker over its sessions). */
  pickers?: Array<() => number>;
  /** Called after each measured round of contender `k`. */
  afterRound?: (k: number) => void;
  /** Extra figures of contender `k` for its result. */
  extra?: (k: number) => Record<string, unknown>;
}

/** Bytes a sized near cache gets per session: the payload plus the SDK's per-entry overhead. */
const NEAR_BYTES_PER_SESSION_OVERHEAD = 1024;

/** A near cache holding `sessions` sessions of `bytes`. */
function sizedNearCache(sessions: number, bytes: number): { maxEntries: number; maxBytes: number } {
  return { maxEntries: sessions, maxBytes: sessions * (bytes + NEAR_BYTES_PER_SESSION_OVERHEAD) };
}

/** The value of `key` in `map`, made by `make` on first use. */
function memo<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/** Progress lines go to stderr, so stdout carries only the tables. */
export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * The contenders of a run and the cluster they share. Contenders are created and populated on
 * first use and kept for the following workloads (a population costs more than a round). Each
 * has its own key space, the sessioncache ones too: with BCAST tracking every near cache on a
 * prefix receives an invalidation for every write to it, and an idle contender processing the
 * invalidations of the one being measured would charge its CPU to that one.
 */
export class Suite {
  readonly #contenders = new Map<string, Contender>();
  readonly #payloads = new Map<number, PayloadFactory>();
  readonly #pools = new Map<number, FrozenDataPool>();
  #shared: Population | undefined;
  readonly rng: Rng;

  constructor(
    readonly opts: BenchOptions,
    readonly cluster: DevCluster,
    readonly redisPids: number[],
  ) {
    this.rng = createRng(opts.seed);
  }

  get seeds(): Array<{ host: string; port: number }> {
    return this.cluster.seedNodes;
  }

  payload(bytes: number): PayloadFactory {
    return memo(this.#payloads, bytes, () => new PayloadFactory(bytes));
  }

  #create(id: ContenderId, bytes: number, sessions: number): Contender {
    const kb = Math.round(bytes / 1024);
    const sized = sizedNearCache(sessions, bytes);
    const sc = (cid: string, label: string, nearCache: SessionCacheContender['options']['nearCache'], description: string): Contender =>
      new SessionCacheContender({ id: cid, label, seeds: this.seeds, keyPrefix: `${cid}-${kb}k:`, ...(nearCache ? { nearCache } : {}), description });
    switch (id) {
      case 'sc-near':
        return sc(id, 'sessioncache near cache', sized, `SessionCache.connect({ redis: { cluster }, nearCache: { maxEntries: ${sized.maxEntries}, maxBytes: ${sized.maxBytes} } }): near cache sized to hold the population, tracking on`);
      case 'sc-near-default':
        return sc(id, 'sessioncache near (defaults)', undefined, 'SessionCache.connect({ redis: { cluster } }): near cache with its defaults (10,000 entries, 64 MiB)');
      case 'sc-nonear':
        return sc(id, 'sessioncache no near cache', { enabled: false }, 'SessionCache.connect({ redis: { cluster }, nearCache: { enabled: false } }): every operation is one Lua call');
      case 'ioredis':
        return new IoredisRawContender(this.seeds, `raw${kb}k:`);
      case 'connect-redis':
        return new ConnectRedisContender({ seeds: this.seeds, prefix: `cr${kb}k:` });
      case 'node-redis-csc':
        return new ConnectRedisContender({ seeds: this.seeds, prefix: `crc${kb}k:`, clientSideCacheEntries: sessions });
      case 'lru-none':
      case 'lru-clone':
      case 'lru-msgpack':
      case 'lru-frozen': {
        const pool = memo(this.#pools, bytes, () => new FrozenDataPool(this.payload(bytes)));
        return new InMemoryContender(id.slice('lru-'.length) as HitProtection, sessions, pool);
      }
    }
  }

  /** Closes (and forgets) the contenders whose key (`<id>@<bytes>`) `close` selects. */
  async #closeWhere(close: (key: string) => boolean): Promise<void> {
    for (const [key, c] of this.#contenders) {
      if (!close(key)) continue;
      this.#contenders.delete(key);
      await c.close().catch(() => undefined);
    }
  }

  /**
   * Closes every contender of one payload size and drops its in-memory data, so that a
   * finished section's heap does not slow the garbage collector (and every contender) after it.
   */
  async releasePayload(bytes: number): Promise<void> {
    await this.#closeWhere((key) => key.endsWith(`@${bytes}`));
    this.#pools.delete(bytes);
  }

  /** The contender `id` for sessions of `bytes`, populated with at least `sessions` sessions. */
  async contender(id: ContenderId, bytes: number, sessions: number): Promise<Contender> {
    const c = memo(this.#contenders, `${id}@${bytes}`, () => this.#create(id, bytes, sessions));
    const t0 = performance.now();
    const before = c.size();
    await c.populate(sessions, this.payload(bytes));
    if (c.kind !== 'memory' && c.size() > before) {
      log(`populated ${c.label}: ${c.size() - before} sessions of ${bytes} B in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    return c;
  }

  /**
   * A sessioncache population of `sessions` sessions of 1 KB that no open SessionCache is
   * attached to, for the sections that connect their own instances: the `sc-near` contender's,
   * closed and handed over, or a new one.
   */
  async sharedPopulation(sessions: number): Promise<Population> {
    if (this.#shared && this.#shared.ids.length >= sessions) return this.#shared;
    const key = `sc-near@1024`;
    const kept = this.#contenders.get(key);
    const sc = (kept instanceof SessionCacheContender ? kept : this.#create('sc-near', 1024, sessions)) as SessionCacheContender;
    this.#contenders.delete(key);
    await sc.populate(sessions, this.payload(1024));
    await sc.close();
    this.#shared = { ids: sc.ids, keyPrefix: sc.options.keyPrefix };
    return this.#shared;
  }

  /**
   * One more sessioncache instance on `pop`'s key prefix, its near cache sized to `sessions`
   * sessions of 1 KB, addressing the population's sessions. Not connected yet: call `open()`.
   */
  instanceOn(pop: Population, sessions: number, id: string, label = id): SessionCacheContender {
    const c = new SessionCacheContender({ id, label, seeds: this.seeds, keyPrefix: pop.keyPrefix, nearCache: sizedNearCache(sessions, 1024), description: '' });
    c.ids = pop.ids;
    return c;
  }

  picker(kind: PickerKind, n: number): () => number {
    if (kind === 'zipf') {
      const z = new ZipfSampler(n, this.opts.zipfS, this.rng);
      return () => z.next();
    }
    if (kind === 'uniform') return uniformPicker(n, this.rng);
    return cyclicPicker(n, Math.floor(this.rng() * n));
  }

  /**
   * Reads every session once, coldest first, so that an LRU cache ends holding the hottest
   * ones: the steady state of a long-running process, reached in one pass instead of minutes
   * of warm-up. Only for contenders with a local cache in front of Redis.
   */
  async prime(c: Contender, sessions: number): Promise<void> {
    if (c.kind === 'memory' || !c.counters?.()) return;
    const t0 = performance.now();
    await forEachConcurrent(0, sessions, 64, (k) => c.get(sessions - 1 - k).catch(() => undefined));
    log(`primed ${c.label} with ${sessions} reads in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  /** Runs one workload of the micro sections: contenders populated, primed, then {@link alternate}. */
  async runWorkload(def: WorkloadDef): Promise<WorkloadResult> {
    log(`workload ${def.id}: ${def.contenders.length} contenders x ${this.opts.rounds} rounds of ${this.opts.roundMs} ms`);
    const contenders: Contender[] = [];
    for (const id of def.contenders) contenders.push(await this.contender(id, def.payloadBytes, def.sessions));
    if (def.picker !== 'cyclic') for (const c of contenders) await this.prime(c, def.sessions);
    return this.alternate(def, contenders);
  }

  /**
   * Every contender warms up once, then `rounds` rounds in which the contenders take turns
   * (A B C A B C ...), so that slow drifts of a shared machine hit all of them alike.
   */
  async alternate(
    def: Omit<WorkloadDef, 'contenders' | 'heads'> & { heads: readonly string[] },
    contenders: readonly Contender[],
    hooks: AlternateHooks = {},
  ): Promise<WorkloadResult> {
    const { opts } = this;
    // One picker per contender: a cyclic scan must continue where its contender left it.
    const pickers = hooks.pickers ?? contenders.map(() => this.picker(def.picker, def.sessions));
    const rounds: RoundResult[][] = contenders.map(() => []);
    const spec = (k: number, durationMs: number) => ({
      mix: def.mix,
      pick: pickers[k]!,
      rng: this.rng,
      durationMs,
      inflight: def.inflight ?? opts.inflight,
      contenders: [contenders[k]!],
      redisPids: this.redisPids,
    });
    for (let k = 0; k < contenders.length; k++) if (opts.warmMs > 0) await runRound(spec(k, opts.warmMs));
    for (let r = 0; r < opts.rounds; r++) {
      for (let k = 0; k < contenders.length; k++) {
        rounds[k]!.push(await runRound(spec(k, opts.roundMs)));
        hooks.afterRound?.(k);
      }
    }
    const results: ContenderResult[] = contenders.map((c, k) => {
      const mem = c.memory?.();
      const extra = { ...(mem ? { nearCache: mem } : {}), ...(hooks.extra?.(k) ?? {}) };
      return {
        id: c.id,
        label: c.label,
        kind: c.kind,
        description: c.description,
        rounds: rounds[k]!,
        summary: summarize(rounds[k]!),
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      };
    });
    return {
      id: def.id,
      section: def.section,
      title: def.title,
      description: def.description,
      sessions: def.sessions,
      payloadBytes: def.payloadBytes,
      mix: def.mix,
      picker: def.picker,
      contenders: results,
      ratios: ratiosOf(results, def.heads),
      ...(def.notes ? { notes: def.notes } : {}),
    };
  }

  /** Closes every contender but one (kept for {@link sharedPopulation}). */
  async closeAllBut(id: ContenderId, bytes: number): Promise<void> {
    await this.#closeWhere((key) => key !== `${id}@${bytes}`);
  }

  async close(): Promise<void> {
    await this.#closeWhere(() => true);
  }
}
