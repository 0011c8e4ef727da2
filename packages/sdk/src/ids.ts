import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Session ids: `<tag>.<secret>`, both unpadded base64url.
 *
 * - `secret`: 32 bytes (256 bits) from the CSPRNG, 43 characters. Only a SHA-256 of it ever
 *   reaches Redis, so a dump, a replica or MONITOR output reveals no live id.
 * - `tag`: 8 bytes, 11 characters, the Redis Cluster hash tag of every key of the session
 *   (and the routing key for cells). For a user's sessions it is a keyed hash of the user id,
 *   so all of them share one slot and per-user operations are single-slot and atomic; for
 *   anonymous sessions it is random.
 *
 * Parsing is strict: exact lengths, the base64url alphabet, and canonical encodings (the
 * unused low bits of the last character must be zero), so an id has exactly one spelling.
 */
const TAG_BYTES = 8;
const SECRET_BYTES = 32;
const TAG_CHARS = 11;
const SECRET_CHARS = 43;
/** Longest string `get` looks at; anything longer is rejected without further work. */
export const MAX_ID_LENGTH = 256;
/** Exact length of an id issued by sessioncache. */
export const SESSION_ID_LENGTH = TAG_CHARS + 1 + SECRET_CHARS;

// Both encodings carry 2 spare bits in their last character, so it must be one whose low two
// bits are zero (alphabet index divisible by 4).
const ID_RE = /^[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** A parsed, valid session id. */
export interface ParsedSessionId {
  readonly id: string;
  /** Routing tag (hash tag of its Redis keys). */
  readonly tag: string;
  /** SHA-256 of the secret part, base64url (the only form stored in Redis). */
  readonly hash: string;
}

/** Why {@link checkSessionId} rejected an id, or undefined when it is well-formed. */
export function checkSessionId(id: unknown): string | undefined {
  if (typeof id !== 'string') return `expected a string, got ${id === null ? 'null' : typeof id}`;
  if (id.length === 0) return 'empty';
  if (id.length > MAX_ID_LENGTH) return `longer than ${MAX_ID_LENGTH} characters`;
  if (id.length !== SESSION_ID_LENGTH) return `expected ${SESSION_ID_LENGTH} characters, got ${id.length}`;
  if (!ID_RE.test(id)) return 'not a sessioncache id (bad characters or encoding)';
  return undefined;
}

/** True when `id` has the exact format of an id sessioncache issues (no I/O). */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && id.length === SESSION_ID_LENGTH && ID_RE.test(id);
}

/** SHA-256 of a secret, as stored in Redis keys (first 24 bytes, 32 base64url characters). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest().subarray(0, 24).toString('base64url');
}

/**
 * A parsed id whose secret hash is computed on first use: a near-cache hit needs only the id
 * and tag, and SHA-256 costs microseconds, an order of magnitude more than the hit itself.
 */
class LazyParsedSessionId implements ParsedSessionId {
  #hash: string | undefined;

  constructor(
    readonly id: string,
    readonly tag: string,
  ) {}

  get hash(): string {
    return (this.#hash ??= hashSecret(this.id.slice(TAG_CHARS + 1)));
  }
}

/** Parses a well-formed id; returns undefined for anything else. */
export function parseSessionId(id: unknown): ParsedSessionId | undefined {
  if (!isSessionId(id)) return undefined;
  return new LazyParsedSessionId(id, id.slice(0, TAG_CHARS));
}

/** A random routing tag for an anonymous session. */
export function randomTag(): string {
  return randomBytes(TAG_BYTES).toString('base64url');
}

/** The routing tag shared by all sessions of `userId`: HMAC-SHA256(secret, userId), 8 bytes. */
export function userTag(secret: Buffer, userId: string): string {
  return createHmac('sha256', secret).update('user\0').update(userId).digest().subarray(0, TAG_BYTES).toString('base64url');
}

/** A new id with the given routing tag (random when omitted). */
export function generateSessionId(tag: string = randomTag()): ParsedSessionId {
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  const id = `${tag}.${secret}`;
  return { id, tag, hash: hashSecret(secret) };
}

/** A keyed hash of an id for logs: correlates log lines without revealing the id. */
export function idFingerprint(id: string, key: Buffer): string {
  return createHmac('sha256', key).update('log\0').update(id).digest().subarray(0, 9).toString('base64url');
}
