import * as net from 'node:net';
import { DevCluster } from '@sessioncache/devcluster';
import { eventually } from '../../../packages/sdk/src/test-support/harness';

export { onNode, ownerOf, sleep, slotOfSession } from '../../../packages/sdk/src/test-support/harness';

/** A cluster of its own for a suite that kills or pauses nodes (the shared one must survive). */
export function startFaultCluster(nodeTimeoutMs = 1000): Promise<DevCluster> {
  return DevCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs });
}

/** A TCP port nobody listens on right now (for "Redis is down" and extra TLS ports). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Waits until `check` is truthy; throws, naming `what`, after `timeoutMs` (a correctness deadline, not a benchmark). */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 20): Promise<NonNullable<T>> {
  try {
    return (await eventually(check, timeoutMs, intervalMs)) as NonNullable<T>;
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}
