import { RedisUnavailableError } from '../errors';

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
    if (this.#held > 0 && this.#held + weight > this.max) {
      throw new RedisUnavailableError(`${this.#held} Redis commands already in flight (maxInFlight ${this.max}); Redis is slow or down`);
    }
    this.#held += weight;
    let sent: Promise<T>;
    try {
      sent = send();
    } catch (err) {
      this.#held -= weight;
      throw err;
    }
    const release = (): void => {
      this.#held -= weight;
    };
    sent.then(release, release);
    return sent;
  }
}
