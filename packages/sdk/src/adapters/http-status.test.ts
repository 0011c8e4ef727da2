import { RedisTimeoutError, RedisUnavailableError, SessionLimitError, SessionNotFoundError, PayloadTooLargeError } from '../errors';
import { errorBody, httpStatusFor, withHttpStatus } from './http-status';

describe('http status of SDK errors', () => {
  it('maps outages to 503, lost races and limits to 409, everything else to 500', () => {
    expect(httpStatusFor(new RedisUnavailableError('down'))).toBe(503);
    expect(httpStatusFor(new RedisTimeoutError(500))).toBe(503);
    expect(httpStatusFor(new SessionNotFoundError())).toBe(409);
    expect(httpStatusFor(new SessionLimitError(3))).toBe(409);
    expect(httpStatusFor(new PayloadTooLargeError(10, 5))).toBe(500);
    expect(httpStatusFor(new Error('x'))).toBe(500);
    expect(httpStatusFor(undefined)).toBe(500);
  });

  it('attaches statusCode to SDK errors only, without overriding one', () => {
    const e = withHttpStatus(new RedisUnavailableError('down'));
    expect((e as unknown as { statusCode: number }).statusCode).toBe(503);
    expect(Object.keys(e)).not.toContain('statusCode');
    const other = withHttpStatus(new Error('x'));
    expect((other as unknown as { statusCode?: number }).statusCode).toBeUndefined();
    const preset = Object.assign(new SessionNotFoundError(), { statusCode: 404 });
    expect(withHttpStatus(preset).statusCode).toBe(404);
  });

  it('builds bodies that reveal no message', () => {
    const body = JSON.stringify(errorBody(new RedisUnavailableError('connect ECONNREFUSED 10.0.0.5:6379')));
    expect(body).toBe('{"error":"session_store_unavailable","code":"SC_ERR_REDIS_UNAVAILABLE"}');
    expect(errorBody(new Error('secret detail'))).toEqual({ error: 'session_error' });
  });
});
