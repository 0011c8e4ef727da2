import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { packr, writePatch, type PayloadFactory, type SessionData } from '../payload';
import { forEachConcurrent, type Contender } from './contender';

const TTL_MS = 1800 * 1000;

/**
 * The floor without a near cache: ioredis Cluster (its defaults, as the SDK's own client has
 * no auto-pipelining either) with one msgpack blob per session, GET + decode to read, SET of
 * the whole re-encoded blob to write, PEXPIRE to touch. No ids hashing, no Lua, no metadata,
 * no timeouts beyond ioredis': what an application writing it by hand would do.
 */
export class IoredisRawContender implements Contender {
  readonly id = 'ioredis';
  readonly label = 'raw ioredis Cluster';
  readonly kind = 'redis' as const;
  readonly description = 'ioredis 5 Cluster, GET/SET/PEXPIRE of one msgpack blob per session (the floor without a near cache)';
  readonly #client: Cluster;
  readonly #keys: string[] = [];
  #template: SessionData = {};

  constructor(seeds: Array<{ host: string; port: number }>, readonly prefix = 'raw:') {
    this.#client = new Cluster(seeds);
    this.#client.on('error', () => undefined);
  }

  #key(): string {
    return `${this.prefix}${randomBytes(32).toString('base64url')}`;
  }

  size(): number {
    return this.#keys.length;
  }

  async populate(count: number, payload: PayloadFactory): Promise<void> {
    this.#template = payload.data(0);
    const from = this.#keys.length;
    this.#keys.length = Math.max(count, from);
    await forEachConcurrent(from, count, 128, async (i) => {
      const key = this.#key();
      await this.#client.set(key, packr.pack(payload.data(i)), 'PX', TTL_MS);
      this.#keys[i] = key;
    });
  }

  async get(i: number): Promise<unknown> {
    const buf = await this.#client.getBuffer(this.#keys[i]!);
    return buf ? packr.unpack(buf) : null;
  }

  touch(i: number): Promise<unknown> {
    return this.#client.pexpire(this.#keys[i]!, TTL_MS);
  }

  update(i: number, n: number): Promise<unknown> {
    return this.#client.set(this.#keys[i]!, packr.pack({ ...this.#template, ...writePatch(n) }), 'PX', TTL_MS);
  }

  create(): Promise<unknown> {
    return this.#client.set(this.#key(), packr.pack(this.#template), 'PX', TTL_MS);
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}
