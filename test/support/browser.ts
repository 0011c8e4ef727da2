/**
 * A minimal cookie-keeping HTTP client for the end-to-end suites: it remembers the cookies
 * the apps set (and forgets cleared or expired ones), like a browser tab would.
 */

/** One cookie as the server set it. */
export interface SetCookie {
  name: string;
  value: string;
  expires: Date | undefined;
  attributes: Map<string, string>;
}

/** Parses one Set-Cookie header line. */
export function parseSetCookie(line: string): SetCookie {
  const [pair = '', ...attrs] = line.split(';');
  const eq = pair.indexOf('=');
  const attributes = new Map<string, string>();
  for (const a of attrs) {
    const i = a.indexOf('=');
    attributes.set((i < 0 ? a : a.slice(0, i)).trim().toLowerCase(), i < 0 ? '' : a.slice(i + 1).trim());
  }
  const exp = attributes.get('expires');
  return {
    name: pair.slice(0, eq).trim(),
    value: decodeURIComponent(pair.slice(eq + 1).trim()),
    expires: exp ? new Date(exp) : undefined,
    attributes,
  };
}

/** A response with its parsed JSON body (undefined when there is none). */
export interface BrowserResponse {
  status: number;
  body: unknown;
  setCookies: SetCookie[];
  headers: Headers;
}

export class Browser {
  readonly cookies = new Map<string, string>();

  /** A browser holding the same cookies (a copy: changes to either are not shared). */
  clone(): Browser {
    const b = new Browser();
    for (const [k, v] of this.cookies) b.cookies.set(k, v);
    return b;
  }

  async request(method: string, url: string, body?: unknown): Promise<BrowserResponse> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/json';
    // A bound on every request: a hang fails the test instead of stalling the suite.
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    const setCookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of setCookies) {
      if (c.value === '' || (c.expires && c.expires.getTime() <= Date.now())) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, setCookies, headers: res.headers };
  }

  get(url: string): Promise<BrowserResponse> {
    return this.request('GET', url);
  }

  post(url: string, body: unknown = {}): Promise<BrowserResponse> {
    return this.request('POST', url, body);
  }

  delete(url: string): Promise<BrowserResponse> {
    return this.request('DELETE', url);
  }
}
