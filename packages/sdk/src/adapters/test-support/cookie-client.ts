/**
 * A fetch client that keeps the one session cookie an app sets, for the adapters'
 * integration tests over real HTTP.
 */

/** One response: status, parsed JSON body, and the last Set-Cookie line that sets a value (if any). */
export interface ClientResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  setCookie: string | undefined;
}

export interface CookieClient {
  /** `name=value` of the session cookie, as sent back on every request. */
  cookie: string | undefined;
  call(method: string, url: string, body?: unknown): Promise<ClientResponse>;
}

export function cookieClient(): CookieClient {
  const client: CookieClient = {
    cookie: undefined,
    async call(method, url, body) {
      const res = await fetch(url, {
        method,
        headers: { ...(client.cookie ? { cookie: client.cookie } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        // A hang fails the test instead of stalling the suite.
        signal: AbortSignal.timeout(10_000),
      });
      // In order, as a browser does: @fastify/session may clear the old cookie, then set the new one.
      let set: string | undefined;
      for (const line of res.headers.getSetCookie()) {
        const pair = line.split(';')[0]!;
        if (pair.endsWith('=') || /max-age=0/i.test(line)) {
          client.cookie = undefined;
        } else {
          client.cookie = pair;
          set = line;
        }
      }
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, setCookie: set };
    },
  };
  return client;
}

/**
 * The session id inside a signed cookie `name=<prefix><id>.<mac>` (express-session's prefix
 * is `s:`, @fastify/session's is empty).
 */
export function sessionIdOf(cookie: string, prefix = ''): string {
  const v = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).slice(prefix.length);
  return v.slice(0, v.lastIndexOf('.'));
}
