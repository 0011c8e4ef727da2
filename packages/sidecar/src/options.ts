import { SidecarConfigError } from './errors';

/** `host:port` of a Redis node or of the HTTP listener. */
export interface HostPort {
  host: string;
  port: number;
}

/** Log levels of the sidecar's pino logger. */
export const LOG_LEVELS = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every setting of the sidecar; the CLI flag and environment variable of each are in the README. */
export interface SidecarOptions {
  /**
   * Address of the HTTP server (reports, /metrics, /healthz, /readyz). Port 0 picks a free one.
   * @default { host: '127.0.0.1', port: 9464 }
   */
  listen: HostPort;
  /**
   * Seed nodes of the Redis Cluster (or standalone nodes) to probe; the rest of the cluster is
   * discovered with CLUSTER NODES. Empty: no probe (the report endpoint still works and
   * /readyz answers 503).
   * @default []
   */
  redisNodes: HostPort[];
  /** ACL user for the probe connections. @default undefined */
  redisUsername: string | undefined;
  /** Password for the probe connections (environment only, never a flag). @default undefined */
  redisPassword: string | undefined;
  /** Milliseconds between probe cycles. @default 5000 */
  probeIntervalMs: number;
  /** Milliseconds allowed to each probe connection attempt and command. @default 1000, or probeIntervalMs if shorter */
  probeTimeoutMs: number;
  /** A reporter silent this long (ms) is no longer live: its gauges are removed. @default 60000 */
  reporterExpiryMs: number;
  /** Most workers whose series are kept at once. @default 64 */
  maxWorkers: number;
  /** Largest accepted report body in bytes. @default 262144 */
  bodyLimitBytes: number;
  /** Log level. @default 'info' */
  logLevel: LogLevel;
}

/** Defaults of {@link SidecarOptions}. */
export const DEFAULT_SIDECAR_OPTIONS: Readonly<SidecarOptions> = Object.freeze({
  listen: Object.freeze({ host: '127.0.0.1', port: 9464 }),
  redisNodes: [],
  redisUsername: undefined,
  redisPassword: undefined,
  probeIntervalMs: 5000,
  probeTimeoutMs: 1000,
  reporterExpiryMs: 60_000,
  maxWorkers: 64,
  bodyLimitBytes: 256 * 1024,
  logLevel: 'info',
});

/** Parses `host:port` (or `[v6]:port`); `what` names the setting in the error. */
export function parseHostPort(text: string, what: string, allowPortZero = false): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (port === 0 && !allowPortZero)) {
    throw new SidecarConfigError(what, `expected host:port, got ${JSON.stringify(text)}`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** Parses `host:port[,host:port...]`. */
export function parseNodeList(text: string, what: string): HostPort[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new SidecarConfigError(what, 'expected host:port[,host:port...], got an empty list');
  return parts.map((p) => parseHostPort(p, what));
}

/** Parses a duration: a whole number of milliseconds, or with a unit (`500ms`, `5s`, `1m`). */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new SidecarConfigError(what, `expected a duration such as 5000, 500ms, 5s or 1m, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

function parseWhole(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) throw new SidecarConfigError(what, `expected a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

function checkRange(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SidecarConfigError(what, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkHostPort(what: string, value: unknown, allowPortZero: boolean): HostPort {
  const v = value as Partial<HostPort> | undefined;
  if (!v || typeof v.host !== 'string' || v.host === '' || typeof v.port !== 'number') {
    throw new SidecarConfigError(what, 'must be { host, port }');
  }
  checkRange(`${what}.port`, v.port, allowPortZero ? 0 : 1, 65535);
  return { host: v.host, port: v.port };
}

/**
 * Merges `options` over {@link DEFAULT_SIDECAR_OPTIONS} and checks every field, throwing a
 * {@link SidecarConfigError} that names the field. Names in messages are the option names;
 * {@link configFromArgs} rethrows them with the flag or variable the user wrote.
 */
export function resolveSidecarOptions(options: Partial<SidecarOptions> = {}): SidecarOptions {
  const o = { ...DEFAULT_SIDECAR_OPTIONS, ...stripUndefined(options) };
  const listen = checkHostPort('listen', o.listen, true);
  if (!Array.isArray(o.redisNodes)) throw new SidecarConfigError('redisNodes', 'must be an array of { host, port }');
  const redisNodes = o.redisNodes.map((n, i) => checkHostPort(`redisNodes[${i}]`, n, false));
  const probeIntervalMs = checkRange('probeIntervalMs', o.probeIntervalMs, 100, 3_600_000);
  // Unset, the timeout follows a short interval down so that `--probe-interval 500ms` alone works.
  const probeTimeoutMs = checkRange(
    'probeTimeoutMs',
    options.probeTimeoutMs ?? Math.min(DEFAULT_SIDECAR_OPTIONS.probeTimeoutMs, probeIntervalMs),
    10,
    60_000,
  );
  if (probeTimeoutMs > probeIntervalMs) {
    throw new SidecarConfigError('probeTimeoutMs', `must not exceed the probe interval (${probeIntervalMs} ms), got ${probeTimeoutMs} ms`);
  }
  const reporterExpiryMs = checkRange('reporterExpiryMs', o.reporterExpiryMs, 1000, 86_400_000);
  const maxWorkers = checkRange('maxWorkers', o.maxWorkers, 1, 10_000);
  const bodyLimitBytes = checkRange('bodyLimitBytes', o.bodyLimitBytes, 1024, 16 * 1024 * 1024);
  if (!(LOG_LEVELS as readonly string[]).includes(o.logLevel)) {
    throw new SidecarConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(o.logLevel)}`);
  }
  for (const k of ['redisUsername', 'redisPassword'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new SidecarConfigError(k, 'must be a string');
  }
  return {
    listen,
    redisNodes,
    redisUsername: o.redisUsername,
    redisPassword: o.redisPassword,
    probeIntervalMs,
    probeTimeoutMs,
    reporterExpiryMs,
    maxWorkers,
    bodyLimitBytes,
    logLevel: o.logLevel,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** One setting of the CLI: its flag, its environment variable and how to read it. */
interface Setting {
  flag: string | undefined;
  env: string;
  option: keyof SidecarOptions;
  parse: (text: string, what: string) => unknown;
}

const SETTINGS: readonly Setting[] = [
  { flag: '--listen', env: 'SESSIONCACHE_SIDECAR_LISTEN', option: 'listen', parse: (t, w) => parseHostPort(t, w, true) },
  { flag: '--redis', env: 'SESSIONCACHE_REDIS_NODES', option: 'redisNodes', parse: parseNodeList },
  { flag: '--redis-username', env: 'SESSIONCACHE_REDIS_USERNAME', option: 'redisUsername', parse: (t) => t },
  // A password on the command line is visible in `ps`: environment only.
  { flag: undefined, env: 'SESSIONCACHE_REDIS_PASSWORD', option: 'redisPassword', parse: (t) => t },
  { flag: '--probe-interval', env: 'SESSIONCACHE_SIDECAR_PROBE_INTERVAL', option: 'probeIntervalMs', parse: parseDuration },
  { flag: '--probe-timeout', env: 'SESSIONCACHE_SIDECAR_PROBE_TIMEOUT', option: 'probeTimeoutMs', parse: parseDuration },
  { flag: '--reporter-expiry', env: 'SESSIONCACHE_SIDECAR_REPORTER_EXPIRY', option: 'reporterExpiryMs', parse: parseDuration },
  { flag: '--max-workers', env: 'SESSIONCACHE_SIDECAR_MAX_WORKERS', option: 'maxWorkers', parse: parseWhole },
  { flag: '--body-limit', env: 'SESSIONCACHE_SIDECAR_BODY_LIMIT', option: 'bodyLimitBytes', parse: parseWhole },
  { flag: '--log-level', env: 'SESSIONCACHE_SIDECAR_LOG_LEVEL', option: 'logLevel', parse: (t) => t },
];

/** Result of {@link configFromArgs}. */
export type CliConfig = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: SidecarOptions };

/**
 * Reads the CLI's flags, then the environment for what the flags left out, then the defaults;
 * validates the result. `--redis` / `SESSIONCACHE_REDIS_NODES` is required here (a sidecar
 * started by hand without Redis is a mistake), unlike in `build()`.
 */
export function configFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliConfig {
  const given = new Map<string, { value: string; what: string }>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '-v' || arg === '--version') return { kind: 'version' };
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const setting = SETTINGS.find((s) => s.flag === flag);
    if (!setting) throw new SidecarConfigError(flag, `unknown argument ${JSON.stringify(arg)} (see --help)`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) {
      throw new SidecarConfigError(flag, 'needs a value');
    }
    given.set(setting.option, { value, what: flag });
  }
  const partial: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  for (const s of SETTINGS) {
    const fromFlag = given.get(s.option);
    const envValue = env[s.env];
    const source = fromFlag ?? (envValue !== undefined && envValue !== '' ? { value: envValue, what: s.env } : undefined);
    if (!source) continue;
    partial[s.option] = s.parse(source.value, source.what);
    origin.set(s.option, source.what);
  }
  if (!partial.redisNodes) {
    throw new SidecarConfigError('--redis', 'is required: --redis host:port[,host:port...] or SESSIONCACHE_REDIS_NODES');
  }
  try {
    return { kind: 'run', options: resolveSidecarOptions(partial as Partial<SidecarOptions>) };
  } catch (err) {
    // Name the flag or variable the user wrote rather than the option behind it.
    if (err instanceof SidecarConfigError) {
      const key = err.option.replace(/[[.].*$/, '');
      const what = origin.get(key) ?? SETTINGS.find((s) => s.option === key)?.flag ?? err.option;
      throw new SidecarConfigError(what, err.message.replace(/^Invalid [^:]+: /, ''));
    }
    throw err;
  }
}

/** The `--help` text. */
export const USAGE = `Usage: sessioncache-sidecar --redis host:port[,host:port...] [options]

Receives metric reports from sessioncache SDKs, probes every Redis Cluster node and serves
Prometheus metrics on /metrics, liveness on /healthz and readiness on /readyz.

Options (flag > environment > default)
  --listen host:port        SESSIONCACHE_SIDECAR_LISTEN           127.0.0.1:9464
  --redis host:port,...     SESSIONCACHE_REDIS_NODES              (required) cluster seed nodes
  --redis-username NAME     SESSIONCACHE_REDIS_USERNAME           none
                            SESSIONCACHE_REDIS_PASSWORD           none (environment only)
  --probe-interval DUR      SESSIONCACHE_SIDECAR_PROBE_INTERVAL   5s
  --probe-timeout DUR       SESSIONCACHE_SIDECAR_PROBE_TIMEOUT    1s
  --reporter-expiry DUR     SESSIONCACHE_SIDECAR_REPORTER_EXPIRY  60s
  --max-workers N           SESSIONCACHE_SIDECAR_MAX_WORKERS      64
  --body-limit BYTES        SESSIONCACHE_SIDECAR_BODY_LIMIT       262144
  --log-level LEVEL         SESSIONCACHE_SIDECAR_LOG_LEVEL        info
  -h, --help                this text
  -v, --version             print the version

Durations: milliseconds (5000) or with a unit (500ms, 5s, 1m).
`;
