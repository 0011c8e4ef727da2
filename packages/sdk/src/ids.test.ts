import { checkSessionId, generateSessionId, hashSecret, isSessionId, parseSessionId, SESSION_ID_LENGTH, userTag } from './ids';

describe('session ids', () => {
  it('are 55 URL-safe characters carrying 256 random bits, never repeated', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const { id } = generateSessionId();
      expect(id).toHaveLength(SESSION_ID_LENGTH);
      expect(id).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(encodeURIComponent(id)).toBe(id);
      expect(isSessionId(id)).toBe(true);
      seen.add(id);
    }
    expect(seen.size).toBe(2000);
    const secret = Buffer.from(generateSessionId().id.split('.')[1]!, 'base64url');
    expect(secret).toHaveLength(32);
  });

  it('parse gives the tag and a hash that does not contain the secret', () => {
    const g = generateSessionId('AAAAAAAAAAA');
    const p = parseSessionId(g.id)!;
    expect(p.tag).toBe('AAAAAAAAAAA');
    expect(p.hash).toBe(g.hash);
    expect(p.hash).toBe(hashSecret(g.id.split('.')[1]!));
    expect(g.id).not.toContain(p.hash);
    expect(p.hash).not.toContain(g.id.split('.')[1]!.slice(0, 8));
  });

  it.each([
    ['non-string', 12345],
    ['null', null],
    ['empty', ''],
    ['truncated', generateSessionId().id.slice(0, -1)],
    ['extended', generateSessionId().id + 'A'],
    ['oversized', 'A'.repeat(300)],
    ['padding', generateSessionId().id.replace(/.$/, '=')],
    ['non-canonical last char', generateSessionId().id.replace(/.$/, 'B')],
    ['bad alphabet', '+' + generateSessionId().id.slice(1)],
    ['no dot', generateSessionId().id.replace('.', 'A')],
    ['unicode', generateSessionId().id.slice(0, -1) + 'é'],
  ])('rejects %s ids', (_, id) => {
    expect(isSessionId(id)).toBe(false);
    expect(parseSessionId(id)).toBeUndefined();
    expect(checkSessionId(id)).toEqual(expect.any(String));
  });

  it('user tags are stable per user and secret, and differ across users and secrets', () => {
    const k1 = Buffer.from('0123456789abcdef0123');
    const k2 = Buffer.from('fedcba9876543210fedc');
    expect(userTag(k1, 'alice')).toBe(userTag(k1, 'alice'));
    expect(userTag(k1, 'alice')).not.toBe(userTag(k1, 'bob'));
    expect(userTag(k1, 'alice')).not.toBe(userTag(k2, 'alice'));
    const id = generateSessionId(userTag(k1, 'alice')).id;
    expect(isSessionId(id)).toBe(true);
    expect(id.startsWith(userTag(k1, 'alice'))).toBe(true);
  });
});
