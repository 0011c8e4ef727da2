/** Input checks of the example app's routes (the Fastify example uses route schemas instead). */

/** One line of the cart. */
export interface CartLine {
  sku: string;
  qty: number;
}

/** Most distinct lines in a cart: keeps every session small. */
export const MAX_CART_LINES = 50;

const USER_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const SKU_RE = /^[A-Za-z0-9_-]{1,32}$/;

/** A valid user name, or undefined. */
export function userName(v: unknown): string | undefined {
  return typeof v === 'string' && USER_RE.test(v) ? v : undefined;
}

/** `{ sku, qty }` from a request body, or undefined when malformed. */
export function cartItem(body: unknown): CartLine | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { sku, qty } = body as { sku?: unknown; qty?: unknown };
  if (typeof sku !== 'string' || !SKU_RE.test(sku)) return undefined;
  if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > 99) return undefined;
  return { sku, qty };
}
