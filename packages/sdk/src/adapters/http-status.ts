/**
 * HTTP statuses for the SDK's errors, shared by both adapters.
 *
 * The stores attach the status to every error they hand to the framework (`statusCode`, which
 * both Express's final handler and Fastify's error handler honour), so that with no custom
 * error handler at all a Redis outage answers 503 at once instead of a generic 500, and a save
 * that lost a race with a logout does not pass for a server fault.
 */

const STATUS_BY_CODE: Readonly<Record<string, number>> = Object.freeze({
  // Redis is down, slow, or did not replicate in time: retrying later may work.
  SC_ERR_REDIS_UNAVAILABLE: 503,
  SC_ERR_REDIS_TIMEOUT: 503,
  SC_ERR_DURABILITY: 503,
  SC_ERR_CLOSED: 503,
  // The session was destroyed (logout elsewhere, log out everywhere, eviction) while the
  // request ran: its changes were refused so that the logout stands.
  SC_ERR_SESSION_NOT_FOUND: 409,
  SC_ERR_VERSION_CONFLICT: 409,
  // The per-user session limit with onLimit 'reject' (at login).
  SC_ERR_SESSION_LIMIT: 409,
});

/**
 * The HTTP status that fits an error thrown by the SDK or a store: 503 when Redis is
 * unavailable or timed out, 409 when the session was destroyed concurrently or a limit or
 * version check refused the write, 500 for everything else (including payloads over
 * `maxPayloadBytes`, a programming error rather than a client's).
 */
export function httpStatusFor(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && STATUS_BY_CODE[code]) || 500;
}

/** Gives an SDK error a `statusCode` (non-enumerable) unless it has one; returns it. */
export function withHttpStatus<E>(err: E): E {
  if (typeof err !== 'object' || err === null) return err;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'string' && e.code.startsWith('SC_ERR_') && e.statusCode === undefined && Object.isExtensible(err)) {
    Object.defineProperty(err, 'statusCode', { value: httpStatusFor(err), enumerable: false, configurable: true, writable: true });
  }
  return err;
}

/** A JSON body for an error response that reveals no internals (no messages, no addresses). */
export function errorBody(err: unknown): { error: string; code?: string } {
  const status = httpStatusFor(err);
  const code = (err as { code?: unknown } | null)?.code;
  const error = status === 503 ? 'session_store_unavailable' : status === 409 ? 'session_conflict' : 'session_error';
  return typeof code === 'string' && code.startsWith('SC_ERR_') ? { error, code } : { error };
}
