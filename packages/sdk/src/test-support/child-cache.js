'use strict';
// A SessionCache in a separate process, driven over IPC by near-cache tests: it answers
// { op: 'get' | 'stats' | 'close', id } messages with the result.
const { SessionCache } = require('../../dist/index.js');

let cache;
process.on('message', async (msg) => {
  try {
    if (msg.op === 'connect') {
      cache = await SessionCache.connect(msg.options);
      process.send({ ok: true });
    } else if (msg.op === 'get') {
      const s = await cache.get(msg.id);
      process.send({ ok: true, value: s ? { version: s.version, data: s.data } : null });
    } else if (msg.op === 'stats') {
      process.send({ ok: true, value: cache.stats().nearCache });
    } else if (msg.op === 'close') {
      await cache.close();
      process.send({ ok: true });
      process.exit(0);
    }
  } catch (err) {
    process.send({ ok: false, error: String(err && err.message) });
  }
});
