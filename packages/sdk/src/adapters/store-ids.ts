import { createHash } from 'node:crypto';
import { isSessionId } from '../ids';

/**
 * Which session ids the framework adapters accept, and how each maps onto the SDK.
 *
 * - **sessioncache ids** (`tag.secret`, 55 characters, issued by `SessionCache` or by the
 *   stores' `genid`/`idGenerator`) are used as they are.
 * - **framework default ids**: express-session's `uid-safe` and @fastify/session's generator
 *   both produce 24 random bytes as 32 base64url characters. Such an id is mapped to a
 *   *derived* sessioncache id: an 11-character tag and a 43-character secret, each a
 *   domain-separated SHA-256 of the framework id. The derived id is a well-formed sessioncache
 *   id, so every SDK operation applies unchanged (near cache, tombstones, Lua scripts), Redis
 *   still only sees a hash of a hash of the cookie value, and the tag spreads those sessions
 *   evenly over the cluster's slots.
 *
 * Anything else (other lengths, other alphabets, garbage) is refused without any I/O: the
 * stores read it as "no session", which makes the framework issue a fresh id (strict mode).
 */

/** express-session's and @fastify/session's default ids: 24 random bytes, base64url. */
const FRAMEWORK_ID_RE = /^[A-Za-z0-9_-]{32}$/;

/** Domain separation, so a derived tag and secret can never be confused with each other. */
const TAG_DOMAIN = 'sessioncache/framework-id/tag\0';
const SECRET_DOMAIN = 'sessioncache/framework-id/secret\0';

/** True for an id in the format the frameworks generate by default. */
export function isFrameworkId(id: unknown): id is string {
  return typeof id === 'string' && FRAMEWORK_ID_RE.test(id);
}

/** The sessioncache id a framework default id is stored under (deterministic). */
export function derivedSessionId(frameworkId: string): string {
  const tag = createHash('sha256').update(TAG_DOMAIN).update(frameworkId).digest().subarray(0, 8).toString('base64url');
  const secret = createHash('sha256').update(SECRET_DOMAIN).update(frameworkId).digest().toString('base64url');
  return `${tag}.${secret}`;
}

/**
 * The sessioncache id under which the session with framework id `sid` lives, or undefined
 * when `sid` is neither a sessioncache id nor a framework default id.
 */
export function storeIdOf(sid: unknown): string | undefined {
  if (isSessionId(sid)) return sid;
  if (isFrameworkId(sid)) return derivedSessionId(sid);
  return undefined;
}
