import { RedisTimeoutError, RedisUnavailableError } from '../errors';

/**
 * Bounds the Redis commands the SDK has handed to ioredis and not yet seen settle
 * (`maxInFlight`). A command counts until ioredis settles it, not until its caller gives up:
 * a call that timed out leaves its command in the node's queue (replies can only be matched in
 * order), so counting it until the timeout would let a frozen or black-holed node accumulate
 * commands without bound while the SDK believed nothing was in flight.
 */
export class InFlightGate {
  #held = 0;

  constructor(readonly max: number) {}

  /** Commands sent and not settled yet. */
  get held(): number {
    return this.#held;
  }

  /**
   * Sends `weight` commands through `send` and counts them until its promise settles. Throws
   * RedisUnavailableError without sending when the bound is reached (a single batch larger than
   * the bound still goes out when nothing else is in flight).
   */
  hold<T>(weight: number, send: () => Promise<T>): Promise<T> {
    const sent = this.#send(weight, send);
    const release = (): void => {
      this.#held -= weight;
    };
    sent.then(release, release);
    return sent;
  }

  /**
   * hold(), and the returned promise rejects with RedisTimeoutError after `timeoutMs` even if
   * the commands are still held (they stay counted until they settle); other errors go through
   * `mapError`. One promise and one timer per call: this is the path of every Redis call.
   */
  call<T>(weight: number, timeoutMs: number, send: () => Promise<T>, mapError: (err: unknown) => Error = (e) => e as Error): Promise<T> {
    const sent = this.#send(weight, send);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisTimeoutError(timeoutMs)), timeoutMs);
      sent.then(
        (value) => {
          this.#held -= weight;
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          this.#held -= weight;
          clearTimeout(timer);
          reject(mapError(err));
        },
      );
    });
  }

  #send<T>(weight: number, send: () => Promise<T>): Promise<T> {
    if (this.#held > 0 && this.#held + weight > this.max) {
      throw new RedisUnavailableError(`${this.#held} Redis commands already in flight (maxInFlight ${this.max}); Redis is slow or down`);
    }
    this.#held += weight;
    try {
      return send();
    } catch (err) {
      this.#held -= weight;
      throw err;
    }
  }
}
