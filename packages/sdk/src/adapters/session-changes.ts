import { deepEqual } from './deep-values';

/**
 * What a framework session object looks like in Redis, and which of its attributes a save
 * must write.
 *
 * Each attribute of the framework session (`req.session.cart`, `request.session.user`, ...)
 * is one SDK attribute, so a save writes only the attributes that changed and two concurrent
 * requests changing different attributes both keep their change. The framework's `cookie`
 * object is stored as the attribute `cookie`, as a plain object with dates as ISO strings (so
 * the near cache can hand out frozen objects without decoding a fresh copy per hit, and both
 * frameworks turn the strings back into Dates when they restore a session).
 */

/** Name of the attribute holding the framework's cookie settings. */
export const COOKIE_ATTRIBUTE = 'cookie';

/** Cookie fields that the frameworks recompute on every request; see {@link changedAttributes}. */
const VOLATILE_COOKIE_FIELDS = new Set(['expires', 'originalExpires']);

/** The framework's cookie object as stored (plain, dates as ISO strings); undefined if not an object. */
export function storedCookie(cookie: unknown): Record<string, unknown> | undefined {
  if (typeof cookie !== 'object' || cookie === null) return undefined;
  // express-session's Cookie and @fastify/session's both serialize through toJSON().
  const src = typeof (cookie as { toJSON?: unknown }).toJSON === 'function' ? (cookie as { toJSON(): unknown }).toJSON() : cookie;
  if (typeof src !== 'object' || src === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    // originalExpires is @fastify/session's copy of the stored expiry; it rebuilds it from
    // `expires` on restore, so storing it would only make every save look like a change.
    if (v === undefined || k === 'originalExpires') continue;
    out[k] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

/**
 * The cookie settings for a session issued now (login, regenerate): the same attributes, with
 * the expiry restarted from `originalMaxAge` when the cookie has one.
 */
export function freshCookie(cookie: unknown, now = Date.now()): Record<string, unknown> {
  const c = storedCookie(cookie) ?? {};
  if (typeof c.originalMaxAge === 'number' && c.originalMaxAge > 0) c.expires = new Date(now + c.originalMaxAge).toISOString();
  return c;
}

/**
 * The attributes of a framework session object as they are stored: its own enumerable
 * string-keyed properties (the frameworks keep their internals on symbols or non-enumerable
 * properties), `undefined` values left out, the cookie as a plain object.
 */
export function sessionAttributes(session: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(session)) {
    const v = (session as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (k === COOKIE_ATTRIBUTE) {
      const c = storedCookie(v);
      if (c !== undefined) out[k] = c;
      continue;
    }
    out[k] = v;
  }
  return out;
}

function expiresMs(cookie: unknown): number | undefined {
  const e = (cookie as { expires?: unknown } | undefined)?.expires;
  if (typeof e !== 'string' && typeof e !== 'number') return undefined;
  const ms = new Date(e).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

function withoutVolatile(cookie: unknown): unknown {
  if (typeof cookie !== 'object' || cookie === null) return cookie;
  return Object.fromEntries(Object.entries(cookie).filter(([k]) => !VOLATILE_COOKIE_FIELDS.has(k)));
}

/**
 * True when the cookie changed enough to be worth a write on its own.
 *
 * With a `maxAge`, both frameworks move `expires` on every request (now + maxAge). Writing it
 * each time would turn every read into a write that invalidates every instance's near cache,
 * so a move of `expires` alone counts only once it exceeds `touchFraction` of the max age (at
 * least one second): the same bargain the SDK's `touch` makes for the Redis TTL. The stored
 * expiry then lags the browser's by at most that fraction; @fastify/session, which checks the
 * stored expiry on load, thus ends an idle session between (1 - touchFraction) x maxAge and
 * maxAge after its last request.
 */
function cookieChanged(before: unknown, after: unknown, touchFraction: number): boolean {
  if (!deepEqual(withoutVolatile(before), withoutVolatile(after))) return true;
  const b = expiresMs(before);
  const a = expiresMs(after);
  if (b === undefined || a === undefined) return b !== a;
  const maxAge = (after as { originalMaxAge?: unknown }).originalMaxAge;
  const threshold = typeof maxAge === 'number' && maxAge > 0 ? Math.max(1000, maxAge * touchFraction) : 0;
  return threshold === 0 ? a !== b : Math.abs(a - b) >= threshold;
}

/**
 * The patch a save must write: each attribute whose value differs from `before` (the session
 * as loaded or last saved), and `undefined` for each attribute that was removed. Undefined
 * when nothing needs writing. When anything else is written the cookie goes along whenever it
 * differs at all, which keeps the stored expiry fresh at no extra cost.
 */
export function changedAttributes(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
  touchFraction: number,
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  let changed = false;
  for (const [k, v] of Object.entries(after)) {
    if (k === COOKIE_ATTRIBUTE) continue;
    if (!deepEqual(before[k], v)) {
      patch[k] = v;
      changed = true;
    }
  }
  for (const k of Object.keys(before)) {
    if (k !== COOKIE_ATTRIBUTE && !(k in after)) {
      patch[k] = undefined;
      changed = true;
    }
  }
  const b = before[COOKIE_ATTRIBUTE];
  const a = after[COOKIE_ATTRIBUTE];
  if (changed ? !deepEqual(b, a) : cookieChanged(b, a, touchFraction)) {
    patch[COOKIE_ATTRIBUTE] = a;
    changed = true;
  }
  return changed ? patch : undefined;
}
