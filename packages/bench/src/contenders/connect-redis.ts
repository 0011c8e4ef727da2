import { randomBytes } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import type { SessionData as ExpressSessionData } from 'express-session';
import { createCluster } from 'redis';
import { writePatch, type PayloadFactory } from '../payload';
import { forEachConcurrent, type CacheCounters, type Contender } from './contender';

/** Options of a {@link ConnectRedisContender}. */
export interface ConnectRedisContenderOptions {
  seeds: Array<{ host: string; port: number }>;
  /** Key prefix of the store (its own key space). */
  prefix: string;
  /**
   * node-redis client-side caching (RESP3, CLIENT TRACKING) with this many entries at most;
   * undefined for the plain RESP2 client connect-redis users run today.
   */
  clientSideCacheEntries?: number;
}

/** A node-redis cluster client as connect-redis users create it (optionally with its client-side cache). */
export function nodeRedisCluster(seeds: Array<{ host: string; port: number }>, clientSideCacheEntries?: number) {
  const rootNodes = seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` }));
  if (clientSideCacheEntries === undefined) return createCluster({ rootNodes });
  return createCluster({ rootNodes, RESP: 3, clientSideCache: { ttl: 0, maxEntries: clientSideCacheEntries, evictPolicy: 'LRU' } });
}

/**
 * connect-redis 10 over a node-redis 5 `createCluster` client: what Express users run today.
 * Its store API is called directly (get / set / touch), as express-session would call it, with
 * its defaults: JSON serialization, GET, SET EX of the whole session, EXPIRE on touch.
 * With `clientSideCacheEntries` the same store runs over node-redis' RESP3 client-side cache.
 */
export class ConnectRedisContender implements Contender {
  readonly kind = 'redis' as const;
  readonly id: string;
  readonly label: string;
  readonly description: string;
  readonly #client: ReturnType<typeof nodeRedisCluster>;
  readonly #store: RedisStore;
  readonly #sids: string[] = [];
  #template: ExpressSessionData = {} as ExpressSessionData;
  #connected: Promise<unknown> | undefined;

  constructor(options: ConnectRedisContenderOptions) {
    const csc = options.clientSideCacheEntries !== undefined;
    this.id = csc ? 'node-redis-csc' : 'connect-redis';
    this.label = csc ? 'connect-redis + node-redis CSC' : 'connect-redis';
    this.description = csc
      ? `connect-redis 10 over node-redis 5 createCluster({ RESP: 3, clientSideCache: { maxEntries: ${options.clientSideCacheEntries}, evictPolicy: 'LRU' } })`
      : 'connect-redis 10 over node-redis 5 createCluster (RESP2), JSON serializer, SET EX / GET / EXPIRE';
    this.#client = nodeRedisCluster(options.seeds, options.clientSideCacheEntries);
    this.#client.on('error', () => undefined);
    this.#store = new RedisStore({ client: this.#client, prefix: options.prefix, ttl: 1800 });
  }

  #open(): Promise<unknown> {
    this.#connected ??= this.#client.connect();
    return this.#connected;
  }

  size(): number {
    return this.#sids.length;
  }

  async populate(count: number, payload: PayloadFactory): Promise<void> {
    await this.#open();
    this.#template = payload.data(0) as unknown as ExpressSessionData;
    const from = this.#sids.length;
    this.#sids.length = Math.max(count, from);
    await forEachConcurrent(from, count, 128, async (i) => {
      const sid = randomBytes(24).toString('base64url');
      await this.#store.set(sid, payload.data(i) as unknown as ExpressSessionData);
      this.#sids[i] = sid;
    });
  }

  get(i: number): Promise<unknown> {
    return this.#store.get(this.#sids[i]!);
  }

  touch(i: number): Promise<unknown> {
    return this.#store.touch(this.#sids[i]!, this.#template);
  }

  update(i: number, n: number): Promise<unknown> {
    return this.#store.set(this.#sids[i]!, { ...this.#template, ...writePatch(n) } as ExpressSessionData);
  }

  create(): Promise<unknown> {
    return this.#store.set(randomBytes(24).toString('base64url'), this.#template);
  }

  counters(): CacheCounters | undefined {
    const s = this.#client.clientSideCache?.stats();
    return s ? { hits: s.hitCount, misses: s.missCount } : undefined;
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#client.close().catch(() => this.#client.destroy());
  }
}
