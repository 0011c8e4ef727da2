/**
 * Configuration of the example app, from the environment (the names the Dockerfile, compose
 * file and Kubernetes manifests use). Checked at start: a missing or bad value stops the app
 * with a message naming the variable.
 */
import type { ConnectOptions } from '@sessioncache/sdk';

/** A configuration problem, reported by name. */
export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** What the server needs. */
export interface ServerConfig {
  port: number;
  host: string;
  secret: string[];
  maxAgeMs: number | undefined;
  cache: ConnectOptions;
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * - `PORT` (default 3000), `HOST` (default 0.0.0.0, as a container needs)
 * - `REDIS_CLUSTER_NODES=host:port,...` (required), or `REDIS_STANDALONE=host:port`
 * - `SESSION_SECRET` (required, at least 32 characters) and optionally
 *   `SESSION_SECRET_PREVIOUS` (still accepted, for rotation)
 * - `SESSIONCACHE_SIDECAR_URL` (optional): turns on metric reports to the sidecar
 * - `SESSIONCACHE_USER_TAG_SECRET` (optional, at least 16 characters): keys the user routing tag
 * - `SESSION_MAX_AGE_MS` (optional): cookie max age = idle timeout; default 30 min
 * - `SESSIONCACHE_KEY_PREFIX`, `SESSIONCACHE_METRICS_INTERVAL_MS` (optional)
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const port = intVar(env, 'PORT', 0, 65535) ?? 3000;
  const host = env.HOST || '0.0.0.0';
  const secret = env.SESSION_SECRET ?? '';
  if (secret.length < 32) throw new ConfigError('SESSION_SECRET', 'is required and must have at least 32 characters');
  const previous = env.SESSION_SECRET_PREVIOUS;
  const cluster = env.REDIS_CLUSTER_NODES;
  const standalone = env.REDIS_STANDALONE;
  if (!cluster && !standalone) throw new ConfigError('REDIS_CLUSTER_NODES', 'is required (host:port,host:port,...)');
  const tagSecret = env.SESSIONCACHE_USER_TAG_SECRET;
  const intervalMs = intVar(env, 'SESSIONCACHE_METRICS_INTERVAL_MS', 100, 3_600_000);
  const cache: ConnectOptions = {
    redis: cluster ? { cluster } : { standalone: standalone! },
    ...(env.SESSIONCACHE_KEY_PREFIX ? { keyPrefix: env.SESSIONCACHE_KEY_PREFIX } : {}),
    ...(tagSecret ? { userTagSecret: tagSecret } : {}),
    ...(env.SESSIONCACHE_SIDECAR_URL ? { metrics: { sidecar: env.SESSIONCACHE_SIDECAR_URL, ...(intervalMs ? { intervalMs } : {}) } } : {}),
  };
  return {
    port,
    host,
    secret: previous ? [secret, previous] : [secret],
    maxAgeMs: intVar(env, 'SESSION_MAX_AGE_MS', 1000, 365 * 86_400_000),
    cache,
  };
}
