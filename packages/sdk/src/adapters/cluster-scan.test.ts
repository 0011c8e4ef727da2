import { globEscape, parseSessionKey } from '../store/keys';
import { parseHandle } from './cluster-scan';

describe('cluster scan helpers', () => {
  it('escapes glob characters of a key prefix for SCAN MATCH', () => {
    expect(globEscape('app*1?[x]\\:s:')).toBe('app\\*1\\?\\[x\\]\\\\:s:');
    expect(globEscape('sc:s:')).toBe('sc:s:');
  });

  it('parses session keys and nothing else', () => {
    const tag = 'AbCdEfGhIjE';
    const hash = 'a'.repeat(32);
    expect(parseSessionKey(`sc:s:{${tag}}:${hash}`, 'sc:s:')).toEqual({ tag, hash });
    expect(parseSessionKey(`sc:t:{${tag}}:${hash}`, 'sc:s:')).toBeUndefined();
    expect(parseSessionKey(`sc:s:{${tag}}:${hash}x`, 'sc:s:')).toBeUndefined();
    expect(parseSessionKey(`sc:s:{${tag}}`, 'sc:s:')).toBeUndefined();
  });

  it('parses handles and refuses anything else', () => {
    expect(parseHandle(`AbCdEfGhIjE:${'b'.repeat(32)}`)).toEqual({ tag: 'AbCdEfGhIjE', hash: 'b'.repeat(32) });
    for (const bad of ['', 'x:y', `AbCdEfGhIjE.${'b'.repeat(32)}`, 5, null]) expect(parseHandle(bad)).toBeUndefined();
  });
});
