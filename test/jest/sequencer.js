'use strict';
// Runs the integration suites in a stable order (by path) with the cluster-wide checks last:
// test/zz-cluster-hygiene.test.ts reads INFO errorstats/commandstats on the shared cluster after
// every other suite has used it.
const Sequencer = require('@jest/test-sequencer').default;

class SessionCacheSequencer extends Sequencer {
  sort(tests) {
    const last = (t) => (t.path.includes('zz-cluster-hygiene') ? 1 : 0);
    return [...tests].sort((a, b) => last(a) - last(b) || a.path.localeCompare(b.path));
  }
}

module.exports = SessionCacheSequencer;
