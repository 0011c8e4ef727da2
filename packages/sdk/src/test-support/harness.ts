import calculateSlot from 'cluster-key-slot';
import Redis, { Cluster } from 'ioredis';
import { flushCluster, parseClusterNodes, parseSeeds, type ClusterNodeEntry } from '@sessioncache/devcluster';
import { parseSessionId } from '../ids';
import { SessionCache, type ConnectOptions } from '../session-cache';
import { KeyLayout } from '../store/keys';

/** Seeds of the shared integration cluster (started by the jest global setup). */
export function seeds(): Array<{ host: string; port: number }> {
  const env = process.env.REDIS_CLUSTER_NODES;
  if (!env) throw new Error('REDIS_CLUSTER_NODES is not set: run integration tests with jest.int.config.js');
  return parseSeeds(env);
}

const open: Array<{ close(): Promise<void> | void }> = [];

/** A SessionCache on the shared cluster, closed automatically after the test. */
export async function connect(overrides: Partial<ConnectOptions> = {}): Promise<SessionCache> {
  const cache = await SessionCache.connect({ redis: { cluster: seeds() }, ...overrides });
  open.push(cache);
  return cache;
}

/** A raw ioredis Cluster on the shared cluster, closed automatically after the test. */
export function raw(): Cluster {
  const c = new Cluster(seeds());
  c.on('error', () => undefined);
  open.push({ close: () => c.disconnect() });
  return c;
}

/** Registers something to close after the current test. */
export function track<T extends { close(): Promise<void> | void }>(x: T): T {
  open.push(x);
  return x;
}

/** Closes everything opened by the current test. */
export async function closeAll(): Promise<void> {
  const all = open.splice(0);
  await Promise.all(all.map((x) => Promise.resolve(x.close()).catch(() => undefined)));
}

/** FLUSHALL on every master of the shared cluster. */
export function flush(): Promise<void> {
  return flushCluster(seeds());
}

/** Masters of the shared cluster that serve slots, as `CLUSTER NODES` entries (host, port, id, slots). */
export async function masters(): Promise<ClusterNodeEntry[]> {
  const c = raw();
  const text = String(await c.cluster('NODES'));
  return parseClusterNodes(text).filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0);
}

/**
 * Runs `fn` on a short-lived plain connection to one node that does not retry, so a
 * dead or paused node fails the call instead of hanging it.
 */
export async function onNode<T>(node: { host: string; port: number }, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** Runs a command on every master of the shared cluster (connections closed after). */
export async function onEveryMaster<T>(fn: (r: Redis) => Promise<T>): Promise<T[]> {
  return Promise.all((await masters()).map((m) => onNode(m, fn)));
}

/** The text of `CLIENT LIST` as one record per connection (`id`, `name`, `laddr`, `cmd`...). */
export function parseClientList(text: string): Array<Record<string, string>> {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

/** `CLIENT LIST` of one node, parsed. */
export async function clientList(node: { host: string; port: number }): Promise<Array<Record<string, string>>> {
  return parseClientList(String(await onNode(node, (r) => r.client('LIST'))));
}

/**
 * Hash slot of a session: every key of a session carries its id's tag (the part before the
 * dot) as Redis Cluster hash tag, so the slot follows from the id alone.
 */
export function slotOfSession(id: string): number {
  return calculateSlot(id.slice(0, id.indexOf('.')));
}

/** The master (one of `masters`) whose slot ranges hold a session's slot. */
export function ownerOf<N extends { slots: ReadonlyArray<readonly [number, number]> }>(masters: readonly N[], id: string): N {
  const slot = slotOfSession(id);
  const owner = masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!owner) throw new Error(`no master serves slot ${slot}`);
  return owner;
}

const defaultLayout = new KeyLayout('sc:');

function parsed(id: string): { tag: string; hash: string } {
  const p = parseSessionId(id);
  if (!p) throw new Error(`not a session id: ${id}`);
  return p;
}

/** Redis key of a session's hash (default `sc:` prefix), for raw reads and writes. */
export function sessionKey(id: string): string {
  const { tag, hash } = parsed(id);
  return defaultLayout.session(tag, hash);
}

/** Redis key of a destroyed session's tombstone (default `sc:` prefix). */
export function tombstoneKey(id: string): string {
  const { tag, hash } = parsed(id);
  return defaultLayout.tombstone(tag, hash);
}

/** Every key on every master. */
export async function allKeys(): Promise<string[]> {
  return (await onEveryMaster((r) => r.keys('*'))).flat();
}

/** Standard hooks for a suite on the shared cluster. */
export function useSharedCluster(): void {
  beforeEach(async () => {
    await flush();
  });
  afterEach(async () => {
    await closeAll();
  });
}

/** Waits until `check` is truthy or throws after `timeoutMs` (for asynchronous effects). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
