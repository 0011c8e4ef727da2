/**
 * Runs the example apps (Express and Fastify) for the end-to-end suites: each instance has its
 * own SessionCache (so its own near cache), listens on a free 127.0.0.1 port, and is closed
 * with everything else the test opened.
 */
import type { AddressInfo } from 'node:net';
import { parseSeeds } from '@sessioncache/devcluster';
import { SessionCache, type ConnectOptions } from '@sessioncache/sdk';
import { createApp } from '../../examples/express-app/src/app';
import { buildApp } from '../../examples/fastify-app/src/app';

export const SECRET = 'e2e-test-secret-0123456789abcdefghijklmnop';

export type Framework = 'express' | 'fastify';

/** App options both examples share. */
export interface ExampleOptions {
  maxAgeMs?: number;
  rolling?: boolean;
}

/** One running instance. */
export interface Instance {
  readonly url: string;
  readonly cache: SessionCache;
  close(): Promise<void>;
}

/** The shared integration cluster's seeds. */
export function clusterSeeds(): Array<{ host: string; port: number }> {
  const env = process.env.REDIS_CLUSTER_NODES;
  if (!env) throw new Error('REDIS_CLUSTER_NODES is not set: run with jest.int.config.js');
  return parseSeeds(env);
}

/** Starts one instance of an example app on its own SessionCache. */
export async function startInstance(framework: Framework, app: ExampleOptions = {}, cache: Partial<ConnectOptions> = {}): Promise<Instance> {
  const sc = await SessionCache.connect({ redis: { cluster: clusterSeeds() }, ...cache });
  try {
    if (framework === 'express') {
      const server = createApp({ cache: sc, secret: SECRET, logError: () => undefined, ...app }).listen(0, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
      const { port } = server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        cache: sc,
        async close() {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await sc.close();
        },
      };
    }
    const f = await buildApp({ cache: sc, secret: SECRET, ...app });
    await f.listen({ port: 0, host: '127.0.0.1' });
    const { port } = f.server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      cache: sc,
      async close() {
        await f.close();
        await sc.close();
      },
    };
  } catch (err) {
    await sc.close();
    throw err;
  }
}
