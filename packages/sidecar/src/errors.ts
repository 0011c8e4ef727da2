/**
 * Errors of @sessioncache/sidecar. Each has a stable `code` (`SC_ERR_SIDECAR_*`, listed in the
 * README) and, for the HTTP ones, the status the sidecar answers with.
 */
export class SidecarError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  /** HTTP status of the reply that carries this error. */
  readonly statusCode: number;

  constructor(code: string, statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.statusCode = statusCode;
  }
}

/** A flag, environment variable or option is invalid; the message names it and the fix. */
export class SidecarConfigError extends SidecarError {
  /** The offending setting as the user wrote it, e.g. `--probe-interval` or `SESSIONCACHE_REDIS_NODES`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('SC_ERR_SIDECAR_CONFIG', 500, `Invalid ${option}: ${message}`);
    this.option = option;
  }
}

/** A report body is malformed or names an unknown family, label, value or bucket layout. */
export class ReportInvalidError extends SidecarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SC_ERR_SIDECAR_REPORT_INVALID', 400, message, options);
  }
}

/** A report has a `version` this sidecar does not speak. */
export class ReportVersionError extends SidecarError {
  constructor(version: unknown, supported: number) {
    super(
      'SC_ERR_SIDECAR_REPORT_VERSION',
      400,
      `Report version ${JSON.stringify(version)} is not supported (this sidecar speaks version ${supported}); ` +
        'run the same sessioncache version in the app and the sidecar',
    );
  }
}

/** A report body exceeds the body limit. */
export class ReportTooLargeError extends SidecarError {
  constructor(limit: number) {
    super('SC_ERR_SIDECAR_REPORT_TOO_LARGE', 413, `Report body exceeds ${limit} bytes (--body-limit)`);
  }
}

/** A report was not sent as `application/json`. */
export class ReportMediaTypeError extends SidecarError {
  constructor(contentType: string | undefined) {
    super(
      'SC_ERR_SIDECAR_REPORT_MEDIA_TYPE',
      415,
      `Reports must be application/json, got ${JSON.stringify(contentType ?? '')}`,
    );
  }
}

/**
 * A report came from a new worker while the table is full of workers that are still alive.
 * Retry later; raise `--max-workers` or give processes stable `SESSIONCACHE_WORKER` names.
 */
export class TooManyWorkersError extends SidecarError {
  constructor(max: number) {
    super(
      'SC_ERR_SIDECAR_TOO_MANY_WORKERS',
      429,
      `This sidecar already keeps ${max} live workers (--max-workers); give processes stable SESSIONCACHE_WORKER names`,
    );
  }
}

/** No route for this method and path. */
export class RouteNotFoundError extends SidecarError {
  constructor(method: string, url: string) {
    super('SC_ERR_SIDECAR_NOT_FOUND', 404, `No route ${method} ${url}`);
  }
}

/** The HTTP server could not listen (address in use, permission denied...). */
export class ListenError extends SidecarError {
  constructor(address: string, options?: { cause?: unknown }) {
    super(
      'SC_ERR_SIDECAR_LISTEN',
      500,
      `Cannot listen on ${address}: ${(options?.cause as Error | undefined)?.message ?? 'unknown error'}`,
      options,
    );
  }
}

/** Anything unexpected while answering a request. */
export class SidecarInternalError extends SidecarError {
  constructor(options?: { cause?: unknown }) {
    super('SC_ERR_SIDECAR_INTERNAL', 500, 'Internal sidecar error', options);
  }
}
