import Redis, { type RedisOptions } from 'ioredis';

/** Why a tracker stopped trusting its node. */
export type TrackerLoss = 'subscriber_lost' | 'connection_lost';

/** Callbacks of a {@link NodeTracker}. */
export interface NodeTrackerEvents {
  /** Keys invalidated by the node; null after FLUSHALL/FLUSHDB (drop everything from it). */
  onInvalidate(keys: Buffer[] | null): void;
  /** The node can no longer be trusted (a connection dropped or stopped answering). */
  onLost(reason: TrackerLoss): void;
  /** The server refuses CLIENT TRACKING (old server, ACL, managed service): give up tracking. */
  onUnsupported(error: Error): void;
}

const CHANNEL = '__redis__:invalidate';

/** True when a CLIENT TRACKING error means the server will never allow it. */
export function isTrackingRefused(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /NOPERM|unknown subcommand|unknown command|not allowed|no permissions|ERR.*TRACKING/i.test(m);
}

/**
 * Invalidation for one Redis node (a master) over RESP2: a subscriber connection on
 * `__redis__:invalidate`, and a tracker connection that turned on
 * `CLIENT TRACKING ON REDIRECT <subscriber id> BCAST PREFIX <session prefix>`.
 *
 * BCAST makes the node push every change to a session key to us, whichever connection read
 * it, so the data connections (ioredis' pool, which has no per-connection handshake hook) need
 * no tracking state at all, and the server keeps no per-key tracking table.
 *
 * Redis sends no sequence numbers and forgets tracking state with the connection, so any loss
 * of either connection (close, error, or a PING unanswered for `pingTimeoutMs`) moves the node
 * to a new epoch (entries from the old epoch are dropped by the near cache), and the tracker
 * rebuilds both connections from scratch with backoff. It is trusted again only once the new
 * subscription and tracking are both in place.
 */
export class NodeTracker {
  /** Incremented on every loss; near-cache entries remember the epoch they were read in. */
  epoch = 0;
  /** True while both connections are up and tracking is on. */
  armed = false;
  #sub: Redis | undefined;
  #trk: Redis | undefined;
  #closed = false;
  #retry = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #arming: Promise<void> | undefined;

  constructor(
    readonly nodeKey: string,
    private readonly host: string,
    private readonly port: number,
    private readonly prefix: string,
    private readonly redisOptions: RedisOptions,
    private readonly events: NodeTrackerEvents,
    private readonly pingIntervalMs = 1000,
    private readonly pingTimeoutMs = 1000,
  ) {}

  /** Arms tracking; resolves when armed, or after a failed first attempt (retries go on). */
  start(): Promise<void> {
    this.#arming ??= this.#arm().finally(() => {
      this.#arming = undefined;
    });
    return this.#arming;
  }

  #connection(name: string): Redis {
    const r = new Redis({
      ...this.redisOptions,
      host: this.host,
      port: this.port,
      lazyConnect: true,
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null, // this class reconnects, so it can re-arm in the right order
      commandTimeout: this.pingTimeoutMs,
      connectTimeout: Math.max(this.pingTimeoutMs, 1000),
      connectionName: name,
    });
    r.on('error', () => undefined);
    return r;
  }

  async #arm(): Promise<void> {
    if (this.#closed) return;
    const sub = this.#connection('sessioncache:invalidations');
    const trk = this.#connection('sessioncache:tracking');
    this.#sub = sub;
    this.#trk = trk;
    try {
      await Promise.all([sub.connect(), trk.connect()]);
      const id = await sub.client('ID');
      sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
        if (channel.toString() !== CHANNEL || sub !== this.#sub) return;
        if (Array.isArray(message)) this.events.onInvalidate(message as Buffer[]);
        else if (message === null || message === undefined || (Buffer.isBuffer(message) && message.length === 0)) this.events.onInvalidate(null);
        else if (Buffer.isBuffer(message)) this.events.onInvalidate([message]);
      });
      await sub.subscribe(CHANNEL);
      try {
        await trk.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', this.prefix);
      } catch (err) {
        if (isTrackingRefused(err)) {
          this.#teardown();
          this.#closed = true;
          this.events.onUnsupported(err as Error);
          return;
        }
        throw err;
      }
      if (this.#closed || sub !== this.#sub) {
        sub.disconnect();
        trk.disconnect();
        return;
      }
      const lost = (reason: TrackerLoss) => () => this.#lose(sub, reason);
      sub.once('close', lost('subscriber_lost'));
      trk.once('close', lost('connection_lost'));
      this.armed = true;
      this.#retry = 0;
      this.#schedulePing(sub, trk);
    } catch {
      this.#lose(sub, 'connection_lost');
    }
  }

  #schedulePing(sub: Redis, trk: Redis): void {
    clearTimeout(this.#pingTimer);
    this.#pingTimer = setTimeout(() => {
      if (sub !== this.#sub || this.#closed) return;
      // A paused or partitioned node keeps its sockets open but answers nothing: without this
      // the subscriber would wait for invalidations that can never come.
      Promise.all([sub.ping(), trk.ping()]).then(
        () => this.#schedulePing(sub, trk),
        () => this.#lose(sub, 'subscriber_lost'),
      );
    }, this.pingIntervalMs);
    this.#pingTimer.unref();
  }

  /** Drops trust in the node (once per connection pair) and schedules a rebuild. */
  #lose(sub: Redis, reason: TrackerLoss): void {
    if (sub !== this.#sub) return; // an older pair, already handled
    const wasArmed = this.armed;
    this.armed = false;
    this.epoch++;
    this.#teardown();
    if (wasArmed) this.events.onLost(reason);
    if (this.#closed) return;
    const delay = Math.min(50 * 2 ** this.#retry, 2000) + Math.floor(Math.random() * 50);
    this.#retry = Math.min(this.#retry + 1, 10);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.start(), delay);
    this.#retryTimer.unref();
  }

  #teardown(): void {
    clearTimeout(this.#pingTimer);
    const sub = this.#sub;
    const trk = this.#trk;
    this.#sub = undefined;
    this.#trk = undefined;
    sub?.removeAllListeners('close');
    trk?.removeAllListeners('close');
    sub?.disconnect();
    trk?.disconnect();
  }

  /** Client ids of the two connections (for tests that kill them). */
  async clientIds(): Promise<{ subscriber: number; tracker: number } | undefined> {
    if (!this.#sub || !this.#trk || !this.armed) return undefined;
    const [tracker] = await Promise.all([this.#trk.client('ID')]);
    const redirect = await this.#trk.call('CLIENT', 'GETREDIR');
    return { subscriber: Number(redirect), tracker: Number(tracker) };
  }

  /** @internal the subscriber connection (tests pause its socket to hold invalidations back). */
  get subscriber(): Redis | undefined {
    return this.#sub;
  }

  /** Stops for good. */
  close(): void {
    this.#closed = true;
    this.armed = false;
    this.epoch++;
    clearTimeout(this.#retryTimer);
    this.#teardown();
  }
}
