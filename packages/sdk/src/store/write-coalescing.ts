import type { Writable } from 'node:stream';
import Redis, { Cluster } from 'ioredis';

/**
 * Coalesces the socket writes of one event-loop turn into one.
 *
 * ioredis writes every command to its node's socket at once: one `write` system call per
 * command. Under load, the replies of many calls arrive together and their callers send their
 * next commands in the same turn of the event loop; on a small VM those system calls were
 * about a quarter of the SDK's CPU on the Redis path. Corking the socket on the first write of
 * a turn and uncorking it on the next tick sends them as one `writev` (measured: 23 -> 19 us
 * of CPU per `get` at 64 in flight). A command waits at most until the current turn's
 * synchronous code ends, before any I/O, so no latency is added.
 *
 * It wraps `write` of the node sockets ioredis creates (its data connections only, each new
 * socket on reconnect): sockets without `cork` are left alone.
 */
export function coalesceWrites(client: Cluster | Redis): void {
  const watch = (node: Redis): void => {
    const patchStream = (): void => patch((node as unknown as { stream?: Writable }).stream);
    node.on('connect', patchStream);
    patchStream();
  };
  if (client instanceof Cluster) {
    client.on('+node', watch);
    for (const node of client.nodes()) watch(node);
  } else {
    watch(client);
  }
}

const patched = new WeakSet<Writable>();

function patch(stream: Writable | undefined): void {
  if (!stream || patched.has(stream) || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
  patched.add(stream);
  const write = stream.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    stream.uncork();
  };
  stream.write = function coalescedWrite(this: Writable, ...args: unknown[]): boolean {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(flush);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Writable['write'];
}
