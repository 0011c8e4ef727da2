/**
 * Every error the SDK throws is a {@link SessionCacheError} with a stable `code`
 * (`SC_ERR_*`); match on `code` or use `instanceof`. The original error is kept in `cause`.
 */
export class SessionCacheError extends Error {
  /** Stable machine-readable code, listed in the package README. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** All error codes, for metrics labels and docs. */
export const ERROR_CODES = Object.freeze([
  'SC_ERR_INVALID_OPTIONS',
  'SC_ERR_INVALID_ARGUMENT',
  'SC_ERR_INVALID_SESSION_ID',
  'SC_ERR_VERSION_CONFLICT',
  'SC_ERR_SESSION_NOT_FOUND',
  'SC_ERR_SESSION_LIMIT',
  'SC_ERR_PAYLOAD_TOO_LARGE',
  'SC_ERR_DECODE',
  'SC_ERR_REDIS_UNAVAILABLE',
  'SC_ERR_REDIS_TIMEOUT',
  'SC_ERR_REDIS',
  'SC_ERR_DURABILITY',
  'SC_ERR_CLOSED',
] as const);

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Bad options given to `SessionCache.connect`. It is also a TypeError so that option checks
 * behave like the platform's own argument checks; the message names the option.
 */
export class InvalidOptionsError extends TypeError {
  readonly code = 'SC_ERR_INVALID_OPTIONS';
  /** Dotted path of the offending option, e.g. `nearCache.maxBytes`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`Invalid sessioncache option "${option}": ${message}`);
    this.name = 'InvalidOptionsError';
    this.option = option;
  }
}

/** A call argument other than the session id is malformed (a patch that is not an object...). */
export class InvalidArgumentError extends SessionCacheError {
  constructor(message: string) {
    super('SC_ERR_INVALID_ARGUMENT', message);
  }
}

/** A write was given a session id that is not one sessioncache could have issued. */
export class InvalidSessionIdError extends SessionCacheError {
  constructor(reason: string) {
    super('SC_ERR_INVALID_SESSION_ID', `Invalid session id: ${reason}`);
  }
}

/** `update(..., { expectedVersion })` found another version; nothing was written. */
export class VersionConflictError extends SessionCacheError {
  constructor(
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super('SC_ERR_VERSION_CONFLICT', `Session version is ${actualVersion}, expected ${expectedVersion}`);
  }
}

/** The session does not exist (never did, expired, destroyed or regenerated). */
export class SessionNotFoundError extends SessionCacheError {
  constructor() {
    super('SC_ERR_SESSION_NOT_FOUND', 'Session not found (expired, destroyed or never created)');
  }
}

/** `maxSessionsPerUser` is reached and `onLimit` is `'reject'`. */
export class SessionLimitError extends SessionCacheError {
  constructor(readonly limit: number) {
    super('SC_ERR_SESSION_LIMIT', `The user already has the maximum of ${limit} live sessions`);
  }
}

/** The encoded session is larger than `maxPayloadBytes`; nothing was sent to Redis. */
export class PayloadTooLargeError extends SessionCacheError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('SC_ERR_PAYLOAD_TOO_LARGE', `Session payload of ${size} bytes exceeds maxPayloadBytes (${limit})`);
  }
}

/** A stored value could not be decoded. Reads treat it as "no session"; this is for stats/logs. */
export class DecodeError extends SessionCacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SC_ERR_DECODE', message, options);
  }
}

/** Redis could not be reached (connection refused, cluster down, connection lost mid-call). */
export class RedisUnavailableError extends SessionCacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SC_ERR_REDIS_UNAVAILABLE', `Redis unavailable: ${message}`, options);
  }
}

/** A Redis call did not complete within `commandTimeoutMs`. */
export class RedisTimeoutError extends SessionCacheError {
  constructor(
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super('SC_ERR_REDIS_TIMEOUT', `Redis did not answer within commandTimeoutMs (${timeoutMs} ms)`, options);
  }
}

/** Redis answered with an unexpected error reply. */
export class RedisCommandError extends SessionCacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SC_ERR_REDIS', `Redis error: ${message}`, options);
  }
}

/**
 * `durability.replicas` replicas did not acknowledge the write within `durability.timeoutMs`.
 * The write reached the master and may or may not survive a failover.
 */
export class DurabilityError extends SessionCacheError {
  constructor(
    readonly acknowledged: number,
    readonly required: number,
  ) {
    super('SC_ERR_DURABILITY', `Write acknowledged by ${acknowledged} replica(s), ${required} required`);
  }
}

/** The SessionCache was closed. */
export class CacheClosedError extends SessionCacheError {
  constructor() {
    super('SC_ERR_CLOSED', 'SessionCache is closed');
  }
}
