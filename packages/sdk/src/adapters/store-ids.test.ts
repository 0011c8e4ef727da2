import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { isSessionId, parseSessionId } from '../ids';
import { derivedSessionId, isFrameworkId, storeIdOf } from './store-ids';

describe('store ids', () => {
  it('maps every framework default id to a well-formed, distinct sessioncache id, the same each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const fid = randomBytes(24).toString('base64url');
      expect(isFrameworkId(fid)).toBe(true);
      const id = storeIdOf(fid)!;
      expect(isSessionId(id)).toBe(true);
      expect(storeIdOf(fid)).toBe(id);
      expect(id).not.toContain(fid);
      seen.add(id);
    }
    expect(seen.size).toBe(2000);
  });

  it('derived ids spread over routing tags (anonymous sessions land on every shard)', () => {
    const tags = new Set<string>();
    for (let i = 0; i < 200; i++) tags.add(parseSessionId(derivedSessionId(randomBytes(24).toString('base64url')))!.tag);
    expect(tags.size).toBe(200);
  });

  it('keeps sessioncache ids as they are', () => {
    const id = `${randomBytes(8).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    expect(storeIdOf(id)).toBe(id);
  });

  it('refuses anything else without throwing', () => {
    const refused = ['', 'a', 'x'.repeat(31), 'x'.repeat(33), `${'x'.repeat(31)}=`, `${'x'.repeat(31)}+`, `${'x'.repeat(31)}/`, 'a.b', null, undefined, 42, {}, ['x'.repeat(32)]];
    for (const v of refused) expect(storeIdOf(v)).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const id = storeIdOf(s);
        return id === undefined ? !isFrameworkId(s) && !isSessionId(s) : isSessionId(id);
      }),
    );
  });
});
