import { setFlagsFromString } from 'node:v8';
import { runInNewContext, runInThisContext } from 'node:vm';

/**
 * The real `process`. Inside a jest test file, `process` is a copy made for the sandbox:
 * listeners added to it never see Node's `unhandledRejection` or `warning` events.
 */
export const realProcess = runInThisContext('process') as NodeJS.Process;

/**
 * Collects unhandled promise rejections and process warnings (on the real process) while a
 * fault is injected: a library that lets a rejection escape can crash an application running
 * with the default `--unhandled-rejections=throw`.
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
    realProcess.on('unhandledRejection', this.#onRejection);
    realProcess.on('warning', this.#onWarning);
  }

  /** Stops listening; call it in a `finally`. */
  stop(): void {
    realProcess.removeListener('unhandledRejection', this.#onRejection);
    realProcess.removeListener('warning', this.#onWarning);
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
