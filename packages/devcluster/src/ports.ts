import * as net from 'node:net';

/** Ports handed out by this process, so two clusters started side by side never collide. */
const reserved = new Set<number>();

/** Resolves true when nothing listens on 127.0.0.1:port and we can bind it. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Finds `count` ports P such that P and its cluster bus port P + 10000 are both free.
 * Ports are drawn at random from 20000-44999 (the bus ports stay below the ephemeral range
 * most Linux systems use for outgoing connections) and reserved for the life of this process.
 */
export async function findFreeClusterPorts(count: number): Promise<number[]> {
  const found: number[] = [];
  for (let attempt = 0; found.length < count && attempt < count * 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if (reserved.has(port) || reserved.has(port + 10000) || reserved.has(port - 10000)) continue;
    if ((await isPortFree(port)) && (await isPortFree(port + 10000))) {
      reserved.add(port);
      found.push(port);
    }
  }
  if (found.length < count) throw new Error(`could not find ${count} free port pairs on 127.0.0.1`);
  return found;
}

/** Checks that a fixed range P..P+count-1 (and its bus ports) is free. */
export async function checkPortRange(first: number, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const p = first + i;
    if (!(await isPortFree(p)) || !(await isPortFree(p + 10000))) {
      throw new Error(`port ${p} or its cluster bus port ${p + 10000} is already in use on 127.0.0.1`);
    }
    reserved.add(p);
    ports.push(p);
  }
  return ports;
}

/** Gives ports back once their cluster has stopped. */
export function releasePorts(ports: Iterable<number>): void {
  for (const p of ports) reserved.delete(p);
}
