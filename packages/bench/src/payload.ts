import { Packr } from 'msgpackr';

/**
 * Session data as an application would keep it: a user, roles, a CSRF token, preferences,
 * flash messages, a cart (which carries the bulk) and two small attributes that writes change.
 * Every contender stores the same object; only its encoding differs (msgpack for
 * sessioncache and the raw ioredis floor, JSON for connect-redis, as each does by default).
 */
export type SessionData = Record<string, unknown>;

/** msgpackr configured as the SDK's codec is (no records, maps as objects). */
export const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', useBigIntExtension: true });

/** Session numbers are written with a fixed width, so that every session encodes to the same size. */
const num = (i: number): string => String(i).padStart(8, '0');

function cartItem(i: number, k: number): Record<string, unknown> {
  return { sku: `SKU-${num((i * 31 + k) % 100000)}`, qty: 1 + (k % 4), price: 9.99 + (k % 90), title: `Product ${num(k)} of session ${num(i)}, blue, size M` };
}

function base(i: number, cartItems: number, pad: number): SessionData {
  const n = num(i);
  return {
    user: { id: `user-${n}`, name: `User Number ${n}`, email: `user${n}@example.com` },
    roles: i % 10 === 0 ? ['admin', 'editor'] : ['customer'],
    csrf: 'c'.repeat(43),
    prefs: { theme: 'dark', lang: 'en-GB', tz: 'Europe/London', notes: 'n'.repeat(pad) },
    flash: [],
    cart: Array.from({ length: cartItems }, (_, k) => cartItem(i, k)),
    lastSeen: 0,
    visits: 0,
  };
}

/**
 * Builds the data of session `i` so that its msgpack encoding is about `targetBytes` long
 * (within a few bytes: cart items fill most of it, a padding string the rest).
 */
export class PayloadFactory {
  readonly #items: number;
  readonly #pad: number;

  constructor(readonly targetBytes: number) {
    if (!(targetBytes >= 256)) throw new RangeError(`payload size must be at least 256 bytes, got ${targetBytes}`);
    let items = 0;
    while (packr.pack(base(0, items + 1, 0)).length <= targetBytes) items++;
    const short = targetBytes - packr.pack(base(0, items, 0)).length;
    this.#items = items;
    this.#pad = Math.max(0, short - 2);
  }

  /** The data of session `i`. */
  data(i: number): SessionData {
    return base(i, this.#items, this.#pad);
  }

  /** Encoded size of session `i`'s data (msgpack). */
  encodedSize(i: number): number {
    return packr.pack(this.data(i)).length;
  }
}

/** The attributes a write changes: small, as most session writes are. */
export function writePatch(n: number): SessionData {
  return { lastSeen: n, visits: n & 0xffff };
}
