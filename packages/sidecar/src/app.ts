import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MetricsReport } from '@sessioncache/sdk';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { ClusterProbe } from './cluster-probe';
import {
  ReportInvalidError,
  ReportMediaTypeError,
  ReportTooLargeError,
  RouteNotFoundError,
  SidecarError,
  SidecarInternalError,
} from './errors';
import { resolveSidecarOptions, type SidecarOptions } from './options';
import { ReportStore } from './report-store';
import { REPORT_BODY_SCHEMA, REPORT_REPLY_SCHEMA } from './report-schema';
import { SidecarMetrics } from './sidecar-metrics';

/** Options of {@link build}: every {@link SidecarOptions} field, optional, plus test hooks. */
export interface BuildOptions extends Partial<SidecarOptions> {
  /**
   * fastify logger setting. @default false (the CLI turns it on at `logLevel`)
   */
  logger?: FastifyServerOptions['logger'];
  /** Wall clock (ms) for reporter expiry and timestamps. @default Date.now */
  now?: () => number;
}

/** What the app exposes to its owner (and tests) as `app.sidecar`. */
export interface SidecarContext {
  readonly options: SidecarOptions;
  readonly store: ReportStore;
  readonly probe: ClusterProbe;
  readonly metrics: SidecarMetrics;
  readonly version: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    sidecar: SidecarContext;
  }
}

/** Version from package.json, read at runtime so src (tests) and dist agree. */
export function sidecarVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const REPORT_ROUTE = '/v1/report';

/** Maps fastify's own request errors to the sidecar's codes. */
function toSidecarError(err: FastifyError, bodyLimit: number, contentType: string | undefined): SidecarError {
  if (err instanceof SidecarError) return err;
  if (err.validation) return new ReportInvalidError(`Invalid report: ${err.message}`, { cause: err });
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ReportTooLargeError(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ReportMediaTypeError(contentType);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ReportInvalidError(`Invalid report: ${err.message}`, { cause: err });
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new SidecarError(err.code ?? 'SC_ERR_SIDECAR_BAD_REQUEST', err.statusCode, err.message);
  }
  return new SidecarInternalError({ cause: err });
}

/**
 * Builds the sidecar's fastify app without listening: routes, report store, metrics registry
 * and the cluster probe, which starts when the app is ready and stops in `onClose`. Tests use
 * `app.inject`; {@link startSidecar} listens.
 *
 * Routes: `POST /v1/report`, `GET /metrics`, `GET /healthz`, `GET /readyz`.
 */
export function build(opts: BuildOptions = {}): FastifyInstance {
  const { logger = false, now = Date.now, ...rest } = opts;
  const options = resolveSidecarOptions(rest);
  const version = sidecarVersion();
  const app = Fastify({
    logger,
    // A report every few seconds per process plus scrapes: per-request lines would drown the
    // log. Refusals and failures are logged by the error handler.
    disableRequestLogging: true,
    bodyLimit: options.bodyLimitBytes,
    // Reject what the schema does not allow instead of fastify's defaults (strip unknown
    // properties, coerce "5" to 5): a malformed report must change nothing.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });
  const store = new ReportStore({ reporterExpiryMs: options.reporterExpiryMs, maxWorkers: options.maxWorkers, now });
  // The metrics read the probe's results at scrape time; the probe feeds the ping histogram.
  const metrics: SidecarMetrics = new SidecarMetrics({ store, nodes: () => probe.nodes(), version });
  const probe = new ClusterProbe({
    seeds: options.redisNodes,
    intervalMs: options.probeIntervalMs,
    timeoutMs: options.probeTimeoutMs,
    username: options.redisUsername,
    password: options.redisPassword,
    onPing: (node, s) => metrics.observePing(node, s),
    onNodeRemoved: (node) => metrics.forgetNode(node),
    logger: app.log as FastifyBaseLogger,
    now,
  });
  const registry = metrics.registry;
  app.decorate('sidecar', { options, store, probe, metrics, version });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = toSidecarError(err, options.bodyLimitBytes, request.headers['content-type']);
    if (request.routeOptions.url === REPORT_ROUTE) metrics.countReport('rejected');
    if (e.statusCode >= 500) request.log.error({ err }, 'request failed');
    else request.log.warn({ code: e.code, url: request.url, reason: e.message }, 'request refused');
    void reply.status(e.statusCode).send({
      statusCode: e.statusCode,
      code: e.code,
      error: e.name,
      message: e.message,
    });
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new RouteNotFoundError(request.method, request.url);
    void reply.status(404).send({ statusCode: 404, code: e.code, error: e.name, message: e.message });
  });

  app.post<{ Body: MetricsReport }>(
    REPORT_ROUTE,
    {
      schema: { body: REPORT_BODY_SCHEMA, response: { 200: REPORT_REPLY_SCHEMA } },
      // fastify would also parse text/plain; reports are JSON only, refused before reading the body.
      onRequest: async (request) => {
        const type = request.headers['content-type'];
        if (type?.split(';')[0]?.trim().toLowerCase() !== 'application/json') throw new ReportMediaTypeError(type);
      },
    },
    async (request) => {
      const { duplicate } = store.apply(request.body);
      metrics.countReport(duplicate ? 'duplicate' : 'accepted');
      return { accepted: true, duplicate };
    },
  );

  app.get('/metrics', async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  app.get('/healthz', async () => ({ status: 'ok', version }));

  app.get('/readyz', async (_request, reply) => {
    const r = probe.readiness();
    return reply.status(r.ready ? 200 : 503).send(r);
  });

  app.addHook('onReady', async () => {
    probe.start();
  });
  app.addHook('onClose', async () => {
    await probe.close();
  });
  return app;
}
