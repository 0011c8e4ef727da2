import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { C1, Packr } from 'msgpackr';
import { DecodeError, InvalidOptionsError } from './errors';

/**
 * Encoding of one session attribute as stored in its Redis hash field:
 *
 * ```
 * byte 0   format version (1)
 * byte 1   flags (bit 0: AES-256-GCM encrypted)
 * byte 2   encryption key id (0 when not encrypted)
 * rest     msgpack payload, or iv(12) | tag(16) | ciphertext when encrypted
 * ```
 *
 * An encrypted value is bound to its session and attribute: the GCM associated data is
 * `<session hash> NUL <attribute name>`, so a ciphertext copied into another session or another
 * attribute (by anyone who can write to Redis) fails authentication and reads as corrupt.
 *
 * Values are plain data: objects, arrays, strings, numbers, booleans, null, Date, Buffer,
 * BigInt. Maps decode as objects and Sets as arrays. Anything that does not decode is a
 * DecodeError, which readers turn into "no session".
 */
export const FORMAT_VERSION = 1;
const FLAG_ENCRYPTED = 1;
const HEADER = 3;
const IV = 12;
const TAG = 16;

/** One AES-256 key with its id (1-255), for encryption at rest with rotation. */
export interface EncryptionKey {
  id: number;
  /** 32 bytes, or 64 hex characters, or 44 base64 characters. */
  key: Buffer | string;
}

/** `encryption` option: payloads are encrypted with `activeKeyId`; every listed key can decrypt. */
export interface EncryptionOptions {
  keys: EncryptionKey[];
  /** Key used for new writes. @default the last key in `keys` */
  activeKeyId?: number;
}

function toKey(k: Buffer | string, id: number): Buffer {
  let buf: Buffer | undefined;
  if (Buffer.isBuffer(k)) buf = k;
  else if (/^[0-9a-fA-F]{64}$/.test(k)) buf = Buffer.from(k, 'hex');
  else if (typeof k === 'string') buf = Buffer.from(k, 'base64');
  if (!buf || buf.length !== 32) throw new InvalidOptionsError(`encryption.keys[id=${id}].key`, 'must be 32 bytes (Buffer, 64 hex or base64 characters)');
  return buf;
}

/** inspect(): a value freezing cannot protect (Date, Buffer, typed array, Map, Set). */
const MUTABLE = 1;
/** inspect(): msgpackr's marker for the never-used byte 0xC1 (it decodes it instead of failing). */
const RESERVED = 2;

/**
 * One walk over a decoded value: finds the 0xC1 marker, notes mutable leaves, and with `freeze`
 * freezes the plain objects and arrays on the way (one pass instead of three on the read path).
 */
function inspect(v: unknown, freeze: boolean): number {
  if (v === C1) return RESERVED;
  if (typeof v !== 'object' || v === null) return 0;
  if (ArrayBuffer.isView(v) || v instanceof Date || v instanceof Map || v instanceof Set || v instanceof ArrayBuffer) return MUTABLE;
  let found = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) found |= inspect(v[i], freeze);
  } else {
    for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k)) found |= inspect((v as Record<string, unknown>)[k], freeze);
  }
  if (freeze) Object.freeze(v);
  return found;
}

/**
 * msgpackr renames an own `__proto__` key to `__proto_` when it decodes (its prototype-pollution
 * guard), so such a value would silently come back changed: refuse it at write instead.
 */
function holdsProtoKey(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof Date) return false;
  if (Array.isArray(v) || v instanceof Set) {
    for (const x of v) if (holdsProtoKey(x)) return true;
    return false;
  }
  if (v instanceof Map) {
    for (const [k, x] of v) if (k === '__proto__' || holdsProtoKey(x)) return true;
    return false;
  }
  if (Object.prototype.hasOwnProperty.call(v, '__proto__')) return true;
  for (const x of Object.values(v)) if (holdsProtoKey(x)) return true;
  return false;
}

/** The session an encrypted value belongs to (a ParsedSessionId fits; `hash` may be lazy). */
export interface SessionBinding {
  readonly hash: string;
}

/** GCM associated data: the session's hash (base64url, never NUL), NUL, the attribute name. */
function associatedData(name: string, session: SessionBinding | undefined): Buffer {
  return Buffer.from(session === undefined ? name : `${session.hash}\0${name}`);
}

/** Encodes and decodes attribute values (msgpack in a versioned envelope, optionally encrypted). */
export class Codec {
  readonly #packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', useBigIntExtension: true, copyBuffers: true });
  readonly #keys = new Map<number, Buffer>();
  readonly #activeKeyId: number;

  constructor(encryption?: EncryptionOptions) {
    if (!encryption) {
      this.#activeKeyId = 0;
      return;
    }
    if (!Array.isArray(encryption.keys) || encryption.keys.length === 0) {
      throw new InvalidOptionsError('encryption.keys', 'must be a non-empty array of { id, key }');
    }
    for (const { id, key } of encryption.keys) {
      if (!Number.isInteger(id) || id < 1 || id > 255) throw new InvalidOptionsError('encryption.keys[].id', `must be an integer from 1 to 255, got ${String(id)}`);
      if (this.#keys.has(id)) throw new InvalidOptionsError('encryption.keys[].id', `duplicate key id ${id}`);
      this.#keys.set(id, toKey(key, id));
    }
    const active = encryption.activeKeyId ?? encryption.keys[encryption.keys.length - 1]!.id;
    if (!this.#keys.has(active)) throw new InvalidOptionsError('encryption.activeKeyId', `no key with id ${active}`);
    this.#activeKeyId = active;
  }

  /** True when values are encrypted (and so bound to their session: moving one needs a rewrite). */
  get encrypts(): boolean {
    return this.#keys.size > 0;
  }

  /** Key id used for new writes (0: no encryption). */
  get activeKeyId(): number {
    return this.#activeKeyId;
  }

  /**
   * Encodes one attribute value of the session whose secret hash is `session.hash` (read only
   * when encrypting); the session and `name` are bound to the ciphertext as associated data.
   */
  encode(name: string, value: unknown, session?: SessionBinding): Buffer {
    const payload = this.#packr.pack(value);
    // After pack: a cyclic value has already failed there, so this walk always ends.
    if (holdsProtoKey(value)) throw new TypeError('a "__proto__" key inside a value cannot be stored (it would not read back unchanged)');
    if (this.#activeKeyId === 0) {
      const out = Buffer.allocUnsafe(HEADER + payload.length);
      out[0] = FORMAT_VERSION;
      out[1] = 0;
      out[2] = 0;
      payload.copy(out, HEADER);
      return out;
    }
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#activeKeyId)!, iv);
    cipher.setAAD(associatedData(name, session));
    const ct = Buffer.concat([cipher.update(payload), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT_VERSION, FLAG_ENCRYPTED, this.#activeKeyId]), iv, cipher.getAuthTag(), ct]);
  }

  /** Decodes one attribute value; throws DecodeError for anything malformed or unauthentic. */
  decode(name: string, buf: Buffer, session?: SessionBinding): unknown {
    const value = this.#unpack(name, buf, session);
    if (inspect(value, false) & RESERVED) throw new DecodeError('msgpack payload holds the reserved byte 0xC1');
    return value;
  }

  /**
   * decode(), with the value's plain objects and arrays frozen, and whether it holds values
   * freezing cannot protect (Date, Buffer, typed arrays): the session read path.
   */
  decodeFrozen(name: string, buf: Buffer, session?: SessionBinding): { value: unknown; mutable: boolean } {
    const value = this.#unpack(name, buf, session);
    const found = inspect(value, true);
    if (found & RESERVED) throw new DecodeError('msgpack payload holds the reserved byte 0xC1');
    return { value, mutable: (found & MUTABLE) !== 0 };
  }

  #unpack(name: string, buf: Buffer, session: SessionBinding | undefined): unknown {
    if (buf.length < HEADER + 1) throw new DecodeError('value too short');
    if (buf[0] !== FORMAT_VERSION) throw new DecodeError(`unknown format version ${buf[0]}`);
    const flags = buf[1]!;
    if ((flags & ~FLAG_ENCRYPTED) !== 0) throw new DecodeError(`unknown flags ${flags}`);
    let payload: Buffer;
    if (flags & FLAG_ENCRYPTED) {
      const key = this.#keys.get(buf[2]!);
      if (!key) throw new DecodeError(`no decryption key with id ${buf[2]}`);
      if (buf.length < HEADER + IV + TAG) throw new DecodeError('encrypted value too short');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(HEADER, HEADER + IV));
        decipher.setAAD(associatedData(name, session));
        decipher.setAuthTag(buf.subarray(HEADER + IV, HEADER + IV + TAG));
        payload = Buffer.concat([decipher.update(buf.subarray(HEADER + IV + TAG)), decipher.final()]);
      } catch (cause) {
        throw new DecodeError('value failed authentication', { cause });
      }
    } else {
      if (buf[2] !== 0) throw new DecodeError('key id set on an unencrypted value');
      payload = buf.subarray(HEADER);
    }
    let value: unknown;
    try {
      value = this.#packr.unpack(payload);
    } catch (cause) {
      throw new DecodeError('msgpack payload does not decode', { cause });
    }
    return value;
  }

  /** True when the value was written with another key than the active one (rotation). */
  needsReencryption(buf: Buffer): boolean {
    return buf.length >= HEADER && (buf[1]! & FLAG_ENCRYPTED ? buf[2]! : 0) !== this.#activeKeyId;
  }
}
