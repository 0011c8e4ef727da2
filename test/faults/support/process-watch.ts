import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

/**
 * Collects unhandled promise rejections and process warnings while a fault is injected: a
 * library that lets a rejection escape can crash an application running with the default
 * `--unhandled-rejections=throw`.
 */
export class ProcessWatch {
  readonly rejections: unknown[] = [];
  readonly warnings: Error[] = [];
  readonly #onRejection = (reason: unknown): void => {
    this.rejections.push(reason);
  };
  readonly #onWarning = (w: Error): void => {
    this.warnings.push(w);
  };

  constructor() {
    process.on('unhandledRejection', this.#onRejection);
    process.on('warning', this.#onWarning);
  }

  /** Stops listening; call it in a `finally`. */
  stop(): void {
    process.removeListener('unhandledRejection', this.#onRejection);
    process.removeListener('warning', this.#onWarning);
  }

  /** A short description of what was caught, for assertion messages. */
  describe(): string {
    return this.rejections.map((r) => (r instanceof Error ? `${r.name}: ${r.message}` : String(r))).join('; ');
  }
}

let gcFn: (() => void) | undefined;

/** A full garbage collection (exposes V8's gc once), so heap figures compare live data only. */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

/** Heap in use and RSS after a full collection, in MiB. */
export function memoryMiB(): { heapUsed: number; rss: number } {
  collectGarbage();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed / 2 ** 20, rss: m.rss / 2 ** 20 };
}
