import { withHttpStatus } from './http-status';

/** A Node-style callback as the frameworks pass them to stores. */
export type NodeCallback<T> = (err: unknown, value?: T) => void;

/**
 * Settles a framework callback from a promise. Errors get their HTTP status attached (see
 * {@link withHttpStatus}). A callback that throws is a bug in the caller: its exception is
 * re-thrown outside the promise chain, as it would have been from a synchronous store, instead
 * of surfacing as an unhandled rejection far from its cause.
 */
export function settle<T>(promise: Promise<T>, cb: NodeCallback<T> | undefined, onValue?: (value: T) => void): void {
  promise.then(
    (value) => {
      if (onValue) onValue(value);
      deliver(() => cb?.(null, value));
    },
    (err: unknown) => deliver(() => cb?.(withHttpStatus(err))),
  );
}

/** Calls a framework callback; an exception from it is re-thrown outside the promise chain. */
export function deliver(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}
