import { packr, PayloadFactory, writePatch } from './payload';

describe('PayloadFactory', () => {
  it.each([1024, 16 * 1024])('builds sessions of about %i bytes of msgpack', (bytes) => {
    const p = new PayloadFactory(bytes);
    for (const i of [0, 7, 49_999]) {
      const size = p.encodedSize(i);
      expect(Math.abs(size - bytes) / bytes).toBeLessThan(0.03);
    }
  });

  it('gives each session its own user and the same shape', () => {
    const p = new PayloadFactory(1024);
    const a = p.data(1);
    const b = p.data(2);
    expect((a.user as { id: string }).id).not.toBe((b.user as { id: string }).id);
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(packr.unpack(packr.pack(a))).toEqual(a);
  });

  it('writes change two small attributes that exist in every session', () => {
    const keys = Object.keys(new PayloadFactory(1024).data(0));
    for (const k of Object.keys(writePatch(5))) expect(keys).toContain(k);
  });
});
