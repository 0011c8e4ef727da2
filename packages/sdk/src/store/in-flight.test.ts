import { RedisTimeoutError, RedisUnavailableError } from '../errors';
import { InFlightGate } from './in-flight';

/** A promise settled from outside, standing for a command ioredis has not answered yet. */
function pending<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('InFlightGate (maxInFlight)', () => {
  it('counts commands until they settle, not until the caller stops waiting', async () => {
    const gate = new InFlightGate(3);
    const a = pending<string>();
    const b = pending<string>();
    const pa = gate.hold(1, () => a.promise);
    const pb = gate.hold(2, () => b.promise);
    expect(gate.held).toBe(3);
    // The caller of `a` gives up (its timeout fired): the command is still held.
    await Promise.race([pa, tick()]);
    expect(gate.held).toBe(3);
    expect(() => gate.hold(1, () => Promise.resolve('x'))).toThrow(RedisUnavailableError);
    a.resolve('late reply');
    await pa;
    await tick();
    expect(gate.held).toBe(2);
    b.reject(new Error('Connection is closed.'));
    await expect(pb).rejects.toThrow('Connection is closed.');
    await tick();
    expect(gate.held).toBe(0);
  });

  it('refuses without sending when full, with a message naming the bound', () => {
    const gate = new InFlightGate(1);
    void gate.hold(1, () => new Promise(() => undefined));
    const send = jest.fn(() => Promise.resolve(1));
    expect(() => gate.hold(1, send)).toThrow(/1 Redis commands already in flight \(maxInFlight 1\)/);
    expect(send).not.toHaveBeenCalled();
  });

  it('lets one batch larger than the bound through when nothing else is in flight', async () => {
    const gate = new InFlightGate(10);
    const big = pending<number>();
    const p = gate.hold(50, () => big.promise);
    expect(gate.held).toBe(50);
    expect(() => gate.hold(1, () => Promise.resolve(1))).toThrow(RedisUnavailableError);
    big.resolve(1);
    await p;
    await tick();
    expect(gate.held).toBe(0);
  });

  it('call() rejects the caller at its timeout, keeps the command counted until it settles, and maps other errors', async () => {
    const gate = new InFlightGate(10);
    const slow = pending<string>();
    const caller = gate.call(1, 20, () => slow.promise);
    await expect(caller).rejects.toBeInstanceOf(RedisTimeoutError);
    expect(gate.held).toBe(1); // the command is still queued in the client
    slow.resolve('late');
    await tick();
    expect(gate.held).toBe(0);
    const failing = gate.call(2, 1000, () => Promise.reject(new Error('raw')), (e) => new RedisUnavailableError(`mapped: ${(e as Error).message}`));
    await expect(failing).rejects.toThrow('mapped: raw');
    expect(gate.held).toBe(0);
    await expect(gate.call(1, 1000, () => Promise.resolve(42))).resolves.toBe(42);
  });

  it('releases what a send that throws synchronously had taken', () => {
    const gate = new InFlightGate(2);
    expect(() =>
      gate.hold(2, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(gate.held).toBe(0);
  });
});
