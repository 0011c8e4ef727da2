import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import type { Codec, SessionBinding } from '../codec';
import {
  DecodeError,
  InvalidArgumentError,
  PayloadTooLargeError,
  RedisCommandError,
  SessionLimitError,
  SessionNotFoundError,
  VersionConflictError,
} from '../errors';
import { generateSessionId, type ParsedSessionId } from '../ids';
import type { ResolvedOptions } from '../options';
import type { Session, SessionInfo } from '../session';
import { InFlightGate } from './in-flight';
import { KeyLayout, globEscape, parseSessionKey } from './keys';
import { DurableWriter } from './durable-writer';
import { mapRedisError, type RedisClient } from './redis-client';
import * as scripts from './scripts';

/** A session read from Redis with what the near cache needs to keep it correctly. */
export interface LoadedSession {
  session: Session;
  /** Server clock (ms) when the script ran. */
  serverNow: number;
  /** Remaining Redis TTL (ms) at that moment. */
  pttl: number;
  /** Encoded size of the attributes (bytes). */
  bytes: number;
  /** The data holds objects freezing cannot protect (Date, Buffer, typed arrays, Map, Set). */
  mutableLeaves: boolean;
  /** The raw HGETALL reply, kept by the near cache to decode a fresh copy per hit when needed. */
  fields: Buffer[];
  /** Set once a caller was handed `session` itself (with mutable leaves, others decode a copy). */
  claimed?: boolean;
}

/** Result of `touch`. */
export interface TouchResult {
  serverNow: number;
  pttl: number;
  lastAccessAt: number;
  refreshed: boolean;
}

type Reply = Buffer | number | null | Reply[];

const SCRIPTS = {
  scGet: { keys: 1, lua: scripts.GET },
  scTouch: { keys: 1, lua: scripts.TOUCH },
  scCreate: { keys: 3, lua: scripts.CREATE },
  scUpdate: { keys: 1, lua: scripts.UPDATE },
  scUndoUpdate: { keys: 1, lua: scripts.UNDO_UPDATE },
  scDestroy: { keys: 3, lua: scripts.DESTROY },
  scTake: { keys: 3, lua: scripts.TAKE },
  scMove: { keys: 5, lua: scripts.MOVE },
  scList: { keys: 1, lua: scripts.LIST },
  scDestroyAll: { keys: 1, lua: scripts.DESTROY_ALL },
  scUpsert: { keys: 3, lua: scripts.UPSERT },
  scTakeRaw: { keys: 3, lua: scripts.TAKE_RAW },
  scRestoreRaw: { keys: 3, lua: scripts.RESTORE_RAW },
} as const;
type ScriptName = keyof typeof SCRIPTS;

const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_ATTRIBUTE_NAME = 256;

function str(b: Reply | undefined): string {
  return Buffer.isBuffer(b) ? b.toString() : String(b);
}

function num(b: Reply | undefined): number {
  return typeof b === 'number' ? b : Number(str(b));
}

/** Checks an attribute name given by the application. */
export function checkAttributeName(name: string): void {
  if (name.length === 0 || name.length > MAX_ATTRIBUTE_NAME) {
    throw new InvalidArgumentError(`Attribute names must have 1 to ${MAX_ATTRIBUTE_NAME} characters, got ${name.length}`);
  }
  if (RESERVED_NAMES.has(name)) throw new InvalidArgumentError(`Attribute name ${JSON.stringify(name)} is reserved`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * The Redis side of every operation: keys, Lua scripts, encoding, timeouts, error mapping and
 * WAIT. It knows nothing about the near cache; SessionCache composes the two.
 */
export class SessionStore {
  readonly keys: KeyLayout;
  /** Sends the writes when `durability.replicas > 0`; its connections open on first use. */
  private readonly durable: DurableWriter;

  constructor(
    private readonly client: RedisClient,
    private readonly opts: ResolvedOptions,
    private readonly codec: Codec,
    /** Shared by every store of a SessionCache: `maxInFlight` bounds their commands together. */
    private readonly gate: InFlightGate = new InFlightGate(Number.POSITIVE_INFINITY),
  ) {
    this.keys = new KeyLayout(opts.keyPrefix);
    this.durable = new DurableWriter(client, opts.durability);
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) {
      // defineCommand runs EVALSHA and falls back to EVAL (reloading the script) on NOSCRIPT.
      client.defineCommand(name, { numberOfKeys: keys, lua });
    }
  }

  /** Values are encrypted, so bound to their session id: moving a session means rewriting it. */
  get encrypts(): boolean {
    return this.codec.encrypts;
  }

  /** Encodes attributes of `session` for a write, enforcing names and the payload limit before any I/O. */
  encodeData(data: Record<string, unknown>, allowUndefined: boolean, session: SessionBinding): { pairs: Buffer[]; deletes: string[]; bytes: number } {
    if (!isPlainObject(data)) throw new InvalidArgumentError('Session data must be a plain object');
    const pairs: Buffer[] = [];
    const deletes: string[] = [];
    let bytes = 0;
    for (const name of Object.keys(data)) {
      checkAttributeName(name);
      const value = data[name];
      if (value === undefined) {
        if (allowUndefined) deletes.push(`d:${name}`);
        continue;
      }
      if (typeof value === 'function' || typeof value === 'symbol') {
        throw new InvalidArgumentError(`Attribute ${JSON.stringify(name)} holds a ${typeof value}, which cannot be stored`);
      }
      let enc: Buffer;
      try {
        enc = this.codec.encode(name, value, session);
      } catch (cause) {
        throw new InvalidArgumentError(`Attribute ${JSON.stringify(name)} cannot be encoded: ${String((cause as Error).message ?? cause)}`);
      }
      bytes += enc.length;
      if (bytes > this.opts.maxPayloadBytes) throw new PayloadTooLargeError(bytes, this.opts.maxPayloadBytes);
      pairs.push(Buffer.from(`d:${name}`), enc);
    }
    return { pairs, deletes, bytes };
  }

  /**
   * Builds a Session from HGETALL pairs; throws DecodeError on any malformed field. `binding` is
   * the session the fields were read from (encrypted values are bound to its hash).
   */
  decodeSession(id: string, fields: Reply[], binding: SessionBinding): { session: Session; bytes: number; mutableLeaves: boolean; idleTimeoutSec: number } {
    const data: Record<string, unknown> = {};
    let v = NaN;
    let c = NaN;
    let a = NaN;
    let i = NaN;
    let x = NaN;
    let z = 0;
    let userId: string | undefined;
    let mutableLeaves = false;
    for (let k = 0; k + 1 < fields.length; k += 2) {
      const name = str(fields[k]);
      const raw = fields[k + 1];
      if (name.startsWith('d:')) {
        const attr = name.slice(2);
        if (RESERVED_NAMES.has(attr) || !Buffer.isBuffer(raw)) throw new DecodeError(`unexpected attribute field ${JSON.stringify(attr)}`);
        // Decoded frozen: the session is handed out frozen anyway, and one walk does it all.
        const { value, mutable } = this.codec.decodeFrozen(attr, raw, binding);
        if (mutable) mutableLeaves = true;
        data[attr] = value;
      } else if (name === 'v') v = num(raw);
      else if (name === 'c') c = num(raw);
      else if (name === 'a') a = num(raw);
      else if (name === 'i') i = num(raw);
      else if (name === 'x') x = num(raw);
      else if (name === 'z') z = num(raw);
      else if (name === 'u') userId = str(raw);
    }
    if (![v, c, a, i, x].every(Number.isFinite)) throw new DecodeError('session metadata missing or malformed');
    // The size feeds the near cache's byte budget: only a non-negative integer is a size.
    if (!Number.isSafeInteger(z) || z < 0) throw new DecodeError('session size field malformed');
    const session: Session = {
      id,
      ...(userId !== undefined ? { userId } : {}),
      data,
      version: v,
      createdAt: c,
      lastAccessAt: a,
      idleExpiresAt: Math.min(a + i * 1000, x),
      absoluteExpiresAt: x,
    };
    return { session, bytes: z, mutableLeaves, idleTimeoutSec: i };
  }

  /** Runs one script; rejects with typed errors only. Not async: one promise per call. */
  private run(name: ScriptName, args: Array<string | Buffer | number>, write: boolean): Promise<Reply> {
    const timeout = this.opts.commandTimeoutMs + (write && this.opts.durability.replicas > 0 ? this.opts.durability.timeoutMs : 0);
    const client = this.client as unknown as Record<string, (...a: unknown[]) => Promise<Reply>>;
    const mapError = (err: unknown): Error => mapRedisError(err, timeout);
    try {
      if (write && this.opts.durability.replicas > 0) {
        // Script then WAIT on a dedicated connection of the slot's master: WAIT blocks its
        // connection, which must not be the one reads share (see DurableWriter).
        return this.gate.hold(2, () => this.durable.write(SCRIPTS[name], args, timeout) as Promise<Reply>).catch((err: unknown) => {
          throw mapError(err);
        });
      }
      return this.gate.call(1, timeout, () => client[`${name}Buffer`]!.call(this.client, ...args), mapError);
    } catch (err) {
      return Promise.reject(mapError(err));
    }
  }

  /** Closes the dedicated durable-write connections (the data client is closed by its owner). */
  close(): Promise<void> {
    return this.durable.close();
  }

  /**
   * Reads a session (refreshing its TTL when due, unless `refresh` is false); null when missing
   * or expired; DecodeError when it does not decode.
   */
  get(p: ParsedSessionId, refresh = true): Promise<LoadedSession | null> {
    return this.run('scGet', [this.keys.session(p.tag, p.hash), refresh ? this.opts.touchFraction : -1], false).then((reply) => this.parseGet(p, reply as Reply[] | null));
  }

  private parseGet(p: ParsedSessionId, reply: Reply[] | null): LoadedSession | null {
    if (!reply) return null;
    if (reply.length === 1) throw new DecodeError('session metadata missing or malformed');
    const { session, bytes, mutableLeaves } = this.decodeSession(p.id, reply[2] as Reply[], p);
    return { session, serverNow: num(reply[0]), pttl: num(reply[1]), bytes, mutableLeaves, fields: reply[2] as Buffer[] };
  }

  /**
   * Reads many sessions with one pipeline per master: keys are grouped by the node that owns
   * their slot (never a multi-key command, so nothing is cross-slot). Each result is the
   * session, null, or the error of that read (a failed node fails only its own ids).
   */
  async getBatch(ps: readonly ParsedSessionId[]): Promise<Array<LoadedSession | null | Error>> {
    const out: Array<LoadedSession | null | Error> = new Array(ps.length).fill(null);
    const groups = new Map<string, number[]>();
    const client = this.client;
    ps.forEach((p, i) => {
      const node = client instanceof Cluster ? (client.slots[calculateSlot(this.keys.session(p.tag, p.hash))]?.[0] ?? '?') : '';
      let g = groups.get(node);
      if (!g) groups.set(node, (g = []));
      g.push(i);
    });
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const pipe = client.pipeline() as unknown as Record<string, (...a: unknown[]) => unknown> & { exec(): Promise<Array<[Error | null, unknown]>> };
        for (const i of indexes) {
          const p = ps[i]!;
          pipe.scGetBuffer!(this.keys.session(p.tag, p.hash), this.opts.touchFraction);
        }
        let results: Array<[Error | null, unknown]>;
        // One deadline for the pipeline, scaled with its size: commandTimeoutMs per started
        // 1,000 reads (a pipeline of thousands would otherwise time out on a busy node).
        const timeout = this.opts.commandTimeoutMs * Math.ceil(indexes.length / 1000);
        try {
          results = await this.gate.call(indexes.length, timeout, () => pipe.exec());
        } catch (err) {
          const mapped = mapRedisError(err, timeout);
          for (const i of indexes) out[i] = mapped;
          return;
        }
        indexes.forEach((i, k) => {
          const [err, reply] = results[k] ?? [new RedisCommandError('missing pipeline reply'), null];
          if (err) {
            out[i] = mapRedisError(err, timeout);
            return;
          }
          try {
            out[i] = this.parseGet(ps[i]!, reply as Reply[] | null);
          } catch (e) {
            out[i] = e as Error;
          }
        });
      }),
    );
    return out;
  }

  /** Refreshes the idle timeout when due (always with `force`); null when missing. */
  async touch(p: ParsedSessionId, force: boolean): Promise<TouchResult | null> {
    const reply = (await this.run('scTouch', [this.keys.session(p.tag, p.hash), force ? 0 : this.opts.touchFraction], true)) as Reply[] | null;
    if (!reply) return null;
    return { serverNow: num(reply[0]), pttl: num(reply[1]), lastAccessAt: num(reply[2]), refreshed: num(reply[3]) === 1 };
  }

  /** Creates a session under a new id with the given tag; returns it and the evicted members. */
  async create(
    target: ParsedSessionId,
    input: { userId?: string; data: Record<string, unknown>; idleTimeoutSec: number; absoluteTimeoutSec: number },
    carry?: { createdAt: number; absoluteExpiresAt: number; version: number },
  ): Promise<{ session: Session; evicted: string[] }> {
    let id = target;
    let { pairs, bytes } = this.encodeData(input.data, false, id);
    for (let attempt = 0; ; attempt++) {
      const reply = (await this.run(
        'scCreate',
        [
          this.keys.session(id.tag, id.hash),
          this.keys.tombstone(id.tag, id.hash),
          this.keys.userIndex(id.tag),
          input.idleTimeoutSec,
          input.absoluteTimeoutSec,
          input.userId ?? '',
          this.opts.maxSessionsPerUser,
          this.opts.onLimit,
          id.hash,
          this.keys.sessionBase(id.tag),
          this.keys.tombstoneBase(id.tag),
          this.opts.tombstoneTtlSec * 1000,
          carry ? carry.createdAt : '',
          carry ? carry.absoluteExpiresAt : '',
          carry ? carry.version : '',
          bytes,
          ...pairs,
        ],
        true,
      )) as Reply[];
      const status = str(reply[0]);
      if (status === 'limit') throw new SessionLimitError(this.opts.maxSessionsPerUser);
      if (status === 'expired') throw new SessionNotFoundError();
      if (status === 'exists') {
        // 2^-256: only a broken random source gets here; try a fresh id once more.
        if (attempt > 2) throw new RedisCommandError('could not allocate a unique session id');
        id = generateSessionId(id.tag);
        if (this.codec.encrypts) ({ pairs, bytes } = this.encodeData(input.data, false, id)); // bound to the id
        continue;
      }
      const now = num(reply[1]);
      const createdAt = num(reply[4]);
      const x = num(reply[5]);
      // Return what a read will return (not the caller's object, which they may still change).
      const data: Record<string, unknown> = {};
      for (let k = 0; k < pairs.length; k += 2) {
        const name = pairs[k]!.toString().slice(2);
        data[name] = this.codec.decode(name, pairs[k + 1]!, id);
      }
      return {
        session: {
          id: id.id,
          ...(input.userId !== undefined ? { userId: input.userId } : {}),
          data,
          version: num(reply[3]),
          createdAt,
          lastAccessAt: now,
          idleExpiresAt: Math.min(now + input.idleTimeoutSec * 1000, x),
          absoluteExpiresAt: x,
        },
        evicted: reply.slice(6).map(str),
      };
    }
  }

  /** Writes changed attributes (undefined deletes); returns the session after the write. */
  async update(p: ParsedSessionId, patch: Record<string, unknown>, expectedVersion: number | undefined): Promise<LoadedSession> {
    const { pairs, deletes, bytes } = this.encodeData(patch, true, p);
    if (bytes > this.opts.maxPayloadBytes) throw new PayloadTooLargeError(bytes, this.opts.maxPayloadBytes);
    const reply = (await this.run(
      'scUpdate',
      [this.keys.session(p.tag, p.hash), expectedVersion ?? -1, this.opts.maxPayloadBytes, pairs.length / 2, ...pairs, ...deletes],
      true,
    )) as Reply[];
    const status = str(reply[0]);
    if (status === 'missing') throw new SessionNotFoundError();
    if (status === 'conflict') throw new VersionConflictError(expectedVersion ?? -1, num(reply[1]));
    if (status === 'too_large') throw new PayloadTooLargeError(num(reply[1]), this.opts.maxPayloadBytes);
    const fields = reply[3] as Buffer[];
    let decoded;
    try {
      decoded = this.decodeSession(p.id, fields, p);
    } catch (err) {
      // Another attribute of the session does not decode (corrupt, or written with a key this
      // process lacks): reads treat the session as missing, so this write must not stay.
      const names = [...pairs.filter((_, k) => k % 2 === 0).map(String), ...deletes, 'v', 'z', 'a'];
      await this.undoUpdate(p, fields, names, reply[4] as Array<Buffer | null>, num(reply[5])).catch(() => undefined);
      throw err;
    }
    return { ...decoded, serverNow: num(reply[1]), pttl: num(reply[2]), fields };
  }

  /** Puts back the previous values of `names` unless the session was written since `fields` were read. */
  private async undoUpdate(p: ParsedSessionId, fields: Buffer[], names: string[], before: Array<Buffer | null>, pttlBefore: number): Promise<void> {
    let version: Buffer | undefined;
    for (let k = 0; k + 1 < fields.length; k += 2) if (fields[k]!.toString() === 'v') version = fields[k + 1];
    if (!version || before.length !== names.length) return;
    const values: Array<string | Buffer> = [];
    before.forEach((v) => (v === null ? values.push('0') : values.push('1', v)));
    await this.run('scUndoUpdate', [this.keys.session(p.tag, p.hash), version, pttlBefore, names.length, ...names, ...values], true);
  }

  /** Deletes a session and leaves its tombstone; true if a live session was deleted. */
  async destroy(p: ParsedSessionId): Promise<boolean> {
    const reply = await this.run(
      'scDestroy',
      [this.keys.session(p.tag, p.hash), this.keys.tombstone(p.tag, p.hash), this.keys.userIndex(p.tag), p.hash, this.opts.tombstoneTtlSec * 1000],
      true,
    );
    return num(reply) === 1;
  }

  /** Moves a session to a new id in the same slot, atomically. Null when the old one is gone. */
  async move(old: ParsedSessionId, next: ParsedSessionId): Promise<LoadedSession | null | 'exists'> {
    const reply = (await this.run(
      'scMove',
      [
        this.keys.session(old.tag, old.hash),
        this.keys.tombstone(old.tag, old.hash),
        this.keys.userIndex(old.tag),
        this.keys.session(next.tag, next.hash),
        this.keys.tombstone(next.tag, next.hash),
        old.hash,
        next.hash,
        this.opts.tombstoneTtlSec * 1000,
      ],
      true,
    )) as Reply[] | null;
    if (!reply) return null;
    if (str(reply[0]) === 'exists') return 'exists';
    const decoded = this.decodeSession(next.id, reply[3] as Reply[], next);
    return { ...decoded, serverNow: num(reply[1]), pttl: num(reply[2]), fields: reply[3] as Buffer[] };
  }

  /** Reads and kills a session at once (first half of a cross-slot regenerate). */
  async take(p: ParsedSessionId): Promise<{ session: Session; serverNow: number; idleTimeoutSec: number } | null> {
    const reply = (await this.run(
      'scTake',
      [this.keys.session(p.tag, p.hash), this.keys.tombstone(p.tag, p.hash), this.keys.userIndex(p.tag), p.hash, this.opts.tombstoneTtlSec * 1000],
      true,
    )) as Reply[] | null;
    if (!reply) return null;
    const { session, idleTimeoutSec } = this.decodeSession(p.id, reply[1] as Reply[], p);
    return { session, serverNow: num(reply[0]), idleTimeoutSec };
  }

  /** Live sessions of a user (pruning dead index entries). */
  async listByUser(tag: string, userId: string, withData: boolean, currentHash: string | undefined): Promise<SessionInfo[]> {
    const reply = (await this.run('scList', [this.keys.userIndex(tag), userId, this.keys.sessionBase(tag), withData ? '1' : '0'], true)) as Reply[];
    const out: SessionInfo[] = [];
    for (let k = 1; k + 1 < reply.length; k += 2) {
      const handle = str(reply[k]);
      let decoded;
      try {
        decoded = this.decodeSession('', reply[k + 1] as Reply[], { hash: handle });
      } catch {
        continue; // a corrupt session is not a live one
      }
      const s = decoded.session;
      out.push({
        handle,
        userId,
        version: s.version,
        createdAt: s.createdAt,
        lastAccessAt: s.lastAccessAt,
        idleExpiresAt: s.idleExpiresAt,
        absoluteExpiresAt: s.absoluteExpiresAt,
        current: handle === currentHash,
        ...(withData ? { data: s.data } : {}),
      });
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Destroys every session of a user but `exceptHash`; returns the destroyed handles. */
  async destroyAllForUser(tag: string, userId: string, exceptHash: string | undefined): Promise<string[]> {
    const reply = (await this.run(
      'scDestroyAll',
      [this.keys.userIndex(tag), userId, this.keys.sessionBase(tag), this.keys.tombstoneBase(tag), exceptHash ?? '', this.opts.tombstoneTtlSec * 1000],
      true,
    )) as Reply[];
    return reply.map(str);
  }

  /** Destroys one of a user's sessions by its handle; true if it was live. */
  async destroyByHandle(tag: string, handle: string): Promise<boolean> {
    const reply = await this.run(
      'scDestroy',
      [this.keys.session(tag, handle), this.keys.tombstone(tag, handle), this.keys.userIndex(tag), handle, this.opts.tombstoneTtlSec * 1000],
      true,
    );
    return num(reply) === 1;
  }

  /**
   * Removes a session from this store and returns its raw fields and remaining TTL, for a move
   * to another cell (null when it is not here).
   */
  async takeRaw(tag: string, hash: string): Promise<{ pttl: number; fields: Buffer[] } | null> {
    const reply = (await this.run(
      'scTakeRaw',
      [this.keys.session(tag, hash), this.keys.tombstone(tag, hash), this.keys.userIndex(tag), hash, this.opts.tombstoneTtlSec * 1000],
      true,
    )) as Reply[] | null;
    if (!reply) return null;
    return { pttl: num(reply[0]), fields: reply[1] as Buffer[] };
  }

  /** Writes raw fields taken from another cell; false when the id exists or is tombstoned here. */
  async restoreRaw(tag: string, hash: string, taken: { pttl: number; fields: Buffer[] }): Promise<boolean> {
    const reply = await this.run(
      'scRestoreRaw',
      [this.keys.session(tag, hash), this.keys.tombstone(tag, hash), this.keys.userIndex(tag), taken.pttl, hash, ...taken.fields],
      true,
    );
    return num(reply) === 1;
  }

  /**
   * The session keys of every master, one SCAN batch at a time, each with the node that holds
   * it (a cluster's keys are spread over its masters; SCAN on one node sees only its own). A key
   * is reported once even if SCAN returns it twice (it may, during a rehash). Each SCAN is bounded
   * like any call (maxInFlight, commandTimeoutMs × 4); a failure fails the whole scan, since a
   * partial answer would undercount or leave sessions behind.
   */
  async *scanKeys(count = 500): AsyncGenerator<{ node: Redis; keys: string[] }> {
    const client = this.client;
    const prefix = this.keys.sessionPrefix;
    const pattern = `${globEscape(prefix)}*`;
    const timeout = this.opts.commandTimeoutMs * 4;
    const mapError = (err: unknown): Error => mapRedisError(err, timeout);
    for (const node of client instanceof Cluster ? client.nodes('master') : [client]) {
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const [next, found] = await this.gate.call(1, timeout, () => node.scan(cursor, 'MATCH', pattern, 'COUNT', count), mapError);
        cursor = next;
        const keys = found.filter((k) => !seen.has(k) && parseSessionKey(k, prefix) !== undefined);
        for (const k of keys) seen.add(k);
        if (keys.length > 0) yield { node, keys };
      } while (cursor !== '0');
    }
  }

  /**
   * Writes a whole session under an existing or new id unless its tombstone blocks it
   * (adapters' `set`). Returns the new version, or 'tombstoned'.
   */
  async upsert(
    p: ParsedSessionId,
    input: { userId?: string; data: Record<string, unknown>; idleTimeoutSec: number; absoluteTimeoutSec: number; expectedVersion?: number },
  ): Promise<{ version: number; created: boolean; serverNow: number; pttl: number } | 'tombstoned'> {
    const { pairs, bytes } = this.encodeData(input.data, false, p);
    const reply = (await this.run(
      'scUpsert',
      [
        this.keys.session(p.tag, p.hash),
        this.keys.tombstone(p.tag, p.hash),
        this.keys.userIndex(p.tag),
        input.idleTimeoutSec,
        input.absoluteTimeoutSec,
        input.userId ?? '',
        bytes,
        p.hash,
        input.expectedVersion ?? -1,
        ...pairs,
      ],
      true,
    )) as Reply[];
    const status = str(reply[0]);
    if (status === 'tombstoned') return 'tombstoned';
    if (status === 'conflict') throw new VersionConflictError(input.expectedVersion ?? -1, num(reply[1]));
    return { serverNow: num(reply[1]), pttl: num(reply[2]), version: num(reply[3]), created: num(reply[4]) === 1 };
  }
}
