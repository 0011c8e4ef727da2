/** A session as returned by the SDK. Objects returned from the near cache are frozen. */
export interface Session {
  /** The session id (the cookie value). Only a hash of its secret part is stored in Redis. */
  readonly id: string;
  /** User the session is bound to (set by `create({ userId })` or `regenerate(id, { userId })`). */
  readonly userId?: string;
  /** Application attributes. */
  readonly data: Readonly<Record<string, unknown>>;
  /** Bumped by every write; pass it as `expectedVersion` for compare-and-set updates. */
  readonly version: number;
  /** Creation time, ms since the epoch (server clock). */
  readonly createdAt: number;
  /** Last time the idle timeout was refreshed, ms since the epoch. */
  readonly lastAccessAt: number;
  /** When the session expires if not accessed again, ms since the epoch. */
  readonly idleExpiresAt: number;
  /** When the session expires however active it is, ms since the epoch. */
  readonly absoluteExpiresAt: number;
}

/** One live session of a user, as listed by `listByUser`. */
export interface SessionInfo {
  /**
   * Opaque, stable handle of the session (a hash, not the id: listing never reveals ids).
   * Pass it to `destroyByHandle` to end that session ("log out this device").
   */
  readonly handle: string;
  readonly userId: string;
  readonly version: number;
  readonly createdAt: number;
  readonly lastAccessAt: number;
  readonly idleExpiresAt: number;
  readonly absoluteExpiresAt: number;
  /** True for the session whose id was given as `current`. */
  readonly current: boolean;
  /** Attributes, only with `{ withData: true }`. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Input of `create`. */
export interface CreateSessionInput {
  /** Bind the session to a user: it joins the user's index and limit. */
  userId?: string;
  /** Initial attributes (undefined values are skipped). */
  data?: Record<string, unknown>;
  /** Per-session idle timeout, overriding the cache's. */
  idleTimeoutSec?: number;
  /** Per-session absolute timeout, overriding the cache's. */
  absoluteTimeoutSec?: number;
}

/** Options of `update`. */
export interface UpdateOptions {
  /** Compare-and-set: write only if the session's version is this one, else VersionConflictError. */
  expectedVersion?: number;
}

/** Options of `regenerate`. */
export interface RegenerateOptions {
  /**
   * Bind the new session to this user (login). A session that changes user starts a new
   * absolute lifetime; otherwise createdAt and the absolute expiry carry over.
   */
  userId?: string;
}
