/**
 * Redis key layout. Every key of a session contains `{tag}`, its Redis Cluster hash tag, and
 * the session's secret appears only as a SHA-256 hash:
 *
 * - `<prefix>s:{<tag>}:<hash>`  HASH     the session (metadata + one field per attribute)
 * - `<prefix>t:{<tag>}:<hash>`  STRING   tombstone of a destroyed/regenerated id (short TTL)
 * - `<prefix>u:{<tag>}`         ZSET     the user's sessions (member = hash, score = createdAt)
 *
 * A user's sessions share the user's tag, so the index and all its sessions are in one slot.
 */
export class KeyLayout {
  constructor(readonly prefix: string) {}

  sessionBase(tag: string): string {
    return `${this.prefix}s:{${tag}}:`;
  }

  tombstoneBase(tag: string): string {
    return `${this.prefix}t:{${tag}}:`;
  }

  session(tag: string, hash: string): string {
    return `${this.prefix}s:{${tag}}:${hash}`;
  }

  tombstone(tag: string, hash: string): string {
    return `${this.prefix}t:{${tag}}:${hash}`;
  }

  userIndex(tag: string): string {
    return `${this.prefix}u:{${tag}}`;
  }

  /** Prefix of every session hash key: the BCAST tracking prefix of the near cache. */
  get sessionPrefix(): string {
    return `${this.prefix}s:`;
  }
}

/** Escapes SCAN MATCH glob characters in a literal prefix. */
export function globEscape(literal: string): string {
  return literal.replace(/[\\*?[\]]/g, '\\$&');
}

const SESSION_KEY_RE = /^\{([A-Za-z0-9_-]{11})\}:([A-Za-z0-9_-]{32})$/;

/** `{ tag, hash }` of a session key, or undefined for a key of another shape. */
export function parseSessionKey(key: string, sessionPrefix: string): { tag: string; hash: string } | undefined {
  if (!key.startsWith(sessionPrefix)) return undefined;
  const m = SESSION_KEY_RE.exec(key.slice(sessionPrefix.length));
  return m ? { tag: m[1]!, hash: m[2]! } : undefined;
}
