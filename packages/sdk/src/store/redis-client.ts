import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import {
  RedisCommandError,
  RedisTimeoutError,
  RedisUnavailableError,
  SessionCacheError,
} from '../errors';
import type { RedisTarget, ResolvedOptions } from '../options';

/** The ioredis client the SDK drives: a Cluster, or one Redis for `{ standalone }`. */
export type RedisClient = Cluster | Redis;

/**
 * Creates the data client. Queues are off (commands fail at once while the client is not
 * ready instead of piling up), retries are bounded, reconnection is automatic with backoff.
 */
export function createRedisClient(target: RedisTarget, opts: ResolvedOptions): RedisClient {
  const nodeOptions: RedisOptions = {
    connectTimeout: Math.min(opts.connectTimeoutMs, 5000),
    // No ioredis commandTimeout: the SDK bounds each call with its own timer (InFlightGate.call;
    // ioredis' does not run while a command is parked during a failover), and a command must
    // stay counted in maxInFlight until it really settles (store/in-flight.ts).
    maxRetriesPerRequest: 1,
    keepAlive: 10_000,
    noDelay: true,
    connectionName: 'sessioncache',
  };
  if ('cluster' in target) {
    const seeds = target.cluster as Array<{ host: string; port: number }>;
    const user: ClusterOptions = target.options ?? {};
    return new Cluster(seeds, {
      enableOfflineQueue: false,
      enableReadyCheck: true,
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      retryDelayOnMoved: 0,
      slotsRefreshTimeout: 1000,
      slotsRefreshInterval: 5000,
      scaleReads: 'master',
      clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000) + Math.floor(Math.random() * 100),
      ...user,
      redisOptions: { ...nodeOptions, ...(user.redisOptions ?? {}) },
    });
  }
  const node = target.standalone as { host: string; port: number };
  return new Redis({
    ...nodeOptions,
    host: node.host,
    port: node.port,
    enableOfflineQueue: false,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
    ...(target.options ?? {}),
  });
}

const UNAVAILABLE = [
  /isn't ready/i,
  /isn't writeable/i,
  /Connection is closed/i,
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/,
  /None of startup nodes is available/i,
  /CLUSTERDOWN/,
  /Too many Cluster redirections/i,
  /max(imum)? ?retries/i,
  /connection.*(lost|closed|reset)/i,
  /Command aborted due to connection close/i,
  /LOADING|MASTERDOWN|TRYAGAIN/,
  /Failed to refresh slots cache/i,
];

/**
 * ioredis attaches the failed command to its errors (`command: { name, args }`): the password of
 * an AUTH, the keys and attribute values of a script. Errors the SDK keeps as `cause` lose the
 * arguments, so logging an error whole never prints a secret or session data.
 */
export function redactCommandArgs<T>(err: T): T {
  if (typeof err === 'object' && err !== null) {
    const command = (err as { command?: unknown }).command;
    if (typeof command === 'object' && command !== null && 'args' in command) {
      (err as { command?: unknown }).command = { name: (command as { name?: unknown }).name };
    }
    const prev = (err as { previousErrors?: unknown }).previousErrors;
    if (Array.isArray(prev)) prev.forEach(redactCommandArgs);
  }
  return err;
}

/** Maps an ioredis error to the SDK's typed errors. */
export function mapRedisError(err: unknown, timeoutMs: number): SessionCacheError {
  if (err instanceof SessionCacheError) return err;
  redactCommandArgs(err);
  const message = err instanceof Error ? err.message : String(err);
  if (/Command timed out/i.test(message)) return new RedisTimeoutError(timeoutMs, { cause: err });
  if (UNAVAILABLE.some((re) => re.test(message))) return new RedisUnavailableError(message, { cause: err });
  return new RedisCommandError(message, { cause: err });
}

/** Resolves once the client is ready, or rejects with RedisUnavailableError after `timeoutMs`. */
export async function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'wait') client.connect().catch(() => undefined);
  let lastError: unknown;
  const onError = (e: unknown): void => {
    lastError = redactCommandArgs(e);
  };
  client.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new RedisUnavailableError(`not ready after ${timeoutMs} ms${lastError ? ` (${String((lastError as Error).message ?? lastError)})` : ''}`, { cause: lastError }));
      }, timeoutMs);
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        client.removeListener('ready', onReady);
      };
      client.once('ready', onReady);
    });
  } finally {
    client.removeListener('error', onError);
  }
}
