import type { Session } from './session';

/**
 * Freezes plain objects and arrays recursively. Values freezing cannot protect (Date, Buffer
 * and other typed arrays, Map, Set) are left as they are: the near cache never hands those out
 * from its own copy (it decodes a fresh one per hit instead).
 */
export function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  if (ArrayBuffer.isView(v) || v instanceof Date || v instanceof Map || v instanceof Set || v instanceof ArrayBuffer) return v;
  Object.freeze(v);
  for (const x of Object.values(v as object)) deepFreeze(x);
  return v;
}

/** Freezes a session and its data. */
export function freezeSession(s: Session): Session {
  deepFreeze(s.data);
  return Object.freeze(s);
}
