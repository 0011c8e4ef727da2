import * as net from 'node:net';
import calculateSlot from 'cluster-key-slot';
import Redis from 'ioredis';
import { DevCluster, type DevClusterNode } from '@sessioncache/devcluster';
import { eventually, sleep } from '../../../packages/sdk/src/test-support/harness';

/** A cluster of its own for a suite that kills or pauses nodes (the shared one must survive). */
export function startFaultCluster(nodeTimeoutMs = 1000): Promise<DevCluster> {
  return DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs });
}

/**
 * Hash slot of a session: every key of a session carries its id's tag (the part before the
 * dot) as Redis Cluster hash tag, so the slot follows from the id alone.
 */
export function slotOfSession(id: string): number {
  return calculateSlot(id.slice(0, id.indexOf('.')));
}

/** The master (from `masters`) that serves a session. */
export function ownerOf(masters: readonly DevClusterNode[], id: string): DevClusterNode {
  const slot = slotOfSession(id);
  const owner = masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!owner) throw new Error(`no master serves slot ${slot}`);
  return owner;
}

/** Runs `fn` on a short-lived plain connection to one node. */
export async function onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** `CLIENT LIST` of one node as records. */
export async function clientList(port: number): Promise<Array<Record<string, string>>> {
  const text = String(await onNode(port, (r) => r.client('LIST')));
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

/** A TCP port nobody listens on right now (for "Redis is down" and extra TLS ports). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export { sleep };

/** Waits until `check` is truthy; throws, naming `what`, after `timeoutMs` (a correctness deadline, not a benchmark). */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 20): Promise<NonNullable<T>> {
  try {
    return (await eventually(check, timeoutMs, intervalMs)) as NonNullable<T>;
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}
