import type { FastifyInstance } from 'fastify';
import { build, type BuildOptions } from './app';
import { ListenError } from './errors';
import { formatAddress } from './redis-info';

/** A listening sidecar. */
export interface RunningSidecar {
  readonly app: FastifyInstance;
  /** `http://host:port` actually bound (useful with port 0). */
  readonly url: string;
  /** Stops the HTTP server and the probe. */
  close(): Promise<void>;
}

/**
 * Builds the app and listens on `options.listen`. Throws a {@link ListenError}
 * (`SC_ERR_SIDECAR_LISTEN`) when the address cannot be bound.
 */
export async function startSidecar(opts: BuildOptions = {}): Promise<RunningSidecar> {
  const app = build(opts);
  const { host, port } = app.sidecar.options.listen;
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new ListenError(formatAddress(host, port), { cause: err });
  }
  const bound = app.server.address();
  const boundPort = bound && typeof bound === 'object' ? bound.port : port;
  const url = `http://${formatAddress(host, boundPort)}`;
  return { app, url, close: () => app.close() };
}
