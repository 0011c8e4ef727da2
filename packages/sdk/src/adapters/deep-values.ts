import { types } from 'node:util';

/**
 * Copying and comparing session attribute values.
 *
 * The SDK hands out deep-frozen sessions (they may be the near cache's own objects). The
 * frameworks' session objects are mutated in place by applications (`req.session.cart.push`),
 * so the adapters give them a deep copy and keep the frozen original as the snapshot that the
 * end-of-request save compares against: only attributes that differ are written.
 */

/** A plain object, also from another realm (a vm context, as under jest): its prototype is a root one. */
function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === null || (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(v) === '[object Object]');
}

/**
 * A deep copy the caller may mutate freely: plain objects and arrays are rebuilt, Dates,
 * Buffers, typed arrays, Maps and Sets are copied; other values are returned as they are
 * (primitives, and objects the codec would not have produced).
 */
export function deepCopy<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  // Fast paths first: this runs on every request for every attribute (plain data, mostly).
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = deepCopy(v[i]);
    return out as T;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return copyObject(v as Record<string, unknown>) as T;
  if (types.isDate(v)) return new Date(v.getTime()) as T;
  if (Buffer.isBuffer(v)) return Buffer.from(v) as T;
  if (ArrayBuffer.isView(v)) return (v as unknown as { slice(): unknown }).slice() as T;
  if (types.isMap(v)) return new Map([...v].map(([k, x]) => [deepCopy(k), deepCopy(x)])) as T;
  if (types.isSet(v)) return new Set([...v].map(deepCopy)) as T;
  if (!isPlainObject(v)) return v;
  return copyObject(v) as T;
}

function copyObject(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    // A key named __proto__ must stay an own data property: assignment would set the prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: deepCopy(v[k]), enumerable: true, writable: true, configurable: true });
    else out[k] = deepCopy(v[k]);
  }
  return out;
}

/**
 * Structural equality of attribute values as the codec stores them: same type, same content;
 * object key order does not matter, and a missing key equals one holding `undefined` (neither
 * is stored). Used to detect changed attributes, so it errs on "different" for anything
 * exotic: a spurious difference costs one small write, a missed one would lose data.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (types.isDate(a)) return types.isDate(b) && Object.is(a.getTime(), b.getTime());
  if (ArrayBuffer.isView(a)) {
    if (!ArrayBuffer.isView(b) || a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  if (types.isMap(a)) {
    if (!types.isMap(b) || a.size !== b.size) return false;
    for (const [k, x] of a) if (!b.has(k) || !deepEqual(x, b.get(k))) return false;
    return true;
  }
  if (types.isSet(a)) {
    if (!types.isSet(b) || a.size !== b.size) return false;
    for (const x of a) if (!b.has(x)) return false;
    return true;
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  // Own properties only: a key like "toString" missing on one side must not read the prototype's.
  const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  for (const k of keys) if (!deepEqual(own(a, k), own(b, k))) return false;
  return true;
}
