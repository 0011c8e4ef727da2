import { INSTANCE_ID_PATTERN, WORKER_NAME_PATTERN } from '@sessioncache/sdk';

/**
 * JSON schema of `POST /v1/report` (the SDK's `MetricsReport`). It checks shapes and bounds;
 * what depends on the metric catalog (family names, label sets, bucket counts) is checked by
 * the store before anything is applied. `version` is only typed here so that an unknown
 * version gets its own error code instead of a generic schema message.
 */

const MAX_SERIES = 4096;

const labels = {
  type: 'object',
  maxProperties: 16,
  propertyNames: { pattern: '^[a-zA-Z_][a-zA-Z0-9_]{0,63}$' },
  additionalProperties: { type: 'string', maxLength: 128 },
} as const;

const name = { type: 'string', minLength: 1, maxLength: 128 } as const;

/** An array of `{ name, labels, value }` series. */
function valueSeries<V extends object>(value: V) {
  return {
    type: 'array',
    maxItems: MAX_SERIES,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'labels', 'value'],
      properties: { name, labels, value },
    },
  } as const;
}

/** Schema of the report body. */
export const REPORT_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'worker', 'instance', 'seq', 'timestamp', 'counters', 'gauges', 'histograms'],
  properties: {
    version: { type: 'integer' },
    worker: { type: 'string', pattern: WORKER_NAME_PATTERN.source },
    instance: { type: 'string', pattern: INSTANCE_ID_PATTERN.source },
    seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    timestamp: { type: 'number', minimum: 0 },
    counters: valueSeries({ type: 'number', minimum: 0 }),
    gauges: valueSeries({ type: 'number' }),
    histograms: {
      type: 'array',
      maxItems: MAX_SERIES,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'labels', 'counts', 'sum'],
        properties: {
          name,
          labels,
          counts: { type: 'array', maxItems: 64, items: { type: 'integer', minimum: 0 } },
          sum: { type: 'number', minimum: 0 },
        },
      },
    },
  },
} as const;

/** Schema of the reply to an accepted report. */
export const REPORT_REPLY_SCHEMA = {
  type: 'object',
  properties: {
    accepted: { type: 'boolean' },
    duplicate: { type: 'boolean' },
  },
} as const;
