import type { Redis } from 'ioredis';
import { DecodeError } from '../errors';
import type { Session } from '../session';
import { parseSessionKey } from '../store/keys';
import { mapRedisError, type RedisClient } from '../store/redis-client';
import type { SessionStore } from '../store/session-store';

/**
 * Store-wide operations (express-session's `all`, `length`, `clear`, and `ids`) on a cluster.
 *
 * Each master is scanned on its own connection (`SCAN MATCH <prefix>s:*`), and every further
 * command is either sent to the node that returned the keys (a pipeline of single-key HGETALLs)
 * or routed by slot one key at a time: never a multi-key command across slots, which is what
 * breaks connect-redis's `all()` on a cluster (CROSSSLOT, tj/connect-redis#360).
 *
 * Session ids cannot be listed: Redis keys hold only a hash of each id's secret. What these
 * operations return instead is a *handle* per session, `<tag>:<hash>`, which identifies it
 * (for `destroyHandle`) but cannot be used as a cookie.
 */

/** One session found by a scan. */
export interface ScannedSession {
  /** `<tag>:<hash>`: stable and unique, but not a session id. */
  readonly handle: string;
  readonly session: Session;
}

/** HGETALL of each key, on the node that listed it; through slot routing for a key that moved. */
async function readAll(client: RedisClient, node: Redis, keys: string[]): Promise<Array<Buffer[] | undefined>> {
  const pipeline = node.pipeline();
  for (const k of keys) pipeline.callBuffer('HGETALL', k);
  let results: Array<[Error | null, unknown]>;
  try {
    results = (await pipeline.exec()) ?? [];
  } catch (err) {
    throw mapRedisError(err, 0);
  }
  return Promise.all(
    keys.map(async (k, i) => {
      const [err, reply] = results[i] ?? [new Error('no reply'), undefined];
      if (!err) return reply as Buffer[];
      // MOVED/ASK: the slot migrated after the SCAN; ask whichever node owns it now.
      try {
        return (await client.callBuffer('HGETALL', k)) as Buffer[];
      } catch (e) {
        throw mapRedisError(e, 0);
      }
    }),
  );
}

/**
 * Every live session in the store, decoded. Sessions whose payload cannot be decoded are
 * skipped (as `get` reads them as missing); so are keys that expired during the scan.
 */
export async function* scanSessions(client: RedisClient, store: SessionStore): AsyncGenerator<ScannedSession> {
  const prefix = store.keys.sessionPrefix;
  for await (const { node, keys } of store.scanKeys()) {
    const replies = await readAll(client, node, keys);
    for (let i = 0; i < keys.length; i++) {
      const fields = replies[i];
      if (!fields || fields.length === 0) continue;
      const { tag, hash } = parseSessionKey(keys[i]!, prefix)!;
      const handle = `${tag}:${hash}`;
      try {
        yield { handle, session: store.decodeSession(handle, fields, { hash }).session };
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
      }
    }
  }
}

/** How many session keys the store holds (no decoding). */
export async function countSessions(store: SessionStore): Promise<number> {
  let n = 0;
  for await (const { keys } of store.scanKeys()) n += keys.length;
  return n;
}

/** Handles of every session in the store. */
export async function sessionHandles(store: SessionStore): Promise<string[]> {
  const out: string[] = [];
  const prefix = store.keys.sessionPrefix;
  for await (const { keys } of store.scanKeys()) {
    for (const k of keys) {
      const { tag, hash } = parseSessionKey(k, prefix)!;
      out.push(`${tag}:${hash}`);
    }
  }
  return out;
}

/** Splits a handle from a scan into `{ tag, hash }`; undefined when it is not one. */
export function parseHandle(handle: unknown): { tag: string; hash: string } | undefined {
  if (typeof handle !== 'string') return undefined;
  const m = /^([A-Za-z0-9_-]{11}):([A-Za-z0-9_-]{32})$/.exec(handle);
  return m ? { tag: m[1]!, hash: m[2]! } : undefined;
}

/**
 * Destroys every session, each with its tombstone (so a request still in flight cannot save
 * one back) and removed from its user's index: one single-slot script per session.
 * Resolves with how many live sessions were destroyed.
 */
export async function destroyAllSessions(store: SessionStore): Promise<number> {
  let n = 0;
  const prefix = store.keys.sessionPrefix;
  for await (const { keys } of store.scanKeys()) {
    const results = await Promise.all(
      keys.map((k) => {
        const { tag, hash } = parseSessionKey(k, prefix)!;
        return store.destroyByHandle(tag, hash);
      }),
    );
    n += results.filter(Boolean).length;
  }
  return n;
}
