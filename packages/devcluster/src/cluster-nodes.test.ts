import { parseClusterNodes, parseInfo, splitSlots } from './cluster-nodes';

describe('splitSlots', () => {
  it.each([1, 3, 5, 7])('covers all 16384 slots exactly once with %i masters', (n) => {
    const ranges = splitSlots(n);
    expect(ranges).toHaveLength(n);
    expect(ranges[0]![0]).toBe(0);
    expect(ranges[n - 1]![1]).toBe(16383);
    for (let i = 1; i < n; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1] + 1);
    const sizes = ranges.map(([a, b]) => b - a + 1);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });
});

describe('parseClusterNodes', () => {
  const text = [
    'a1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460',
    'b2 127.0.0.1:30002@40002 master - 0 1700000000000 2 connected 5461-10922 [10923-<-c3]',
    'c3 127.0.0.1:30003@40003 master,fail - 1 1700000000000 3 disconnected',
    'd4 127.0.0.1:30004@40004 slave a1 0 1700000000000 1 connected',
  ].join('\n');

  it('reads roles, slots, failure flags and masters', () => {
    const nodes = parseClusterNodes(text);
    expect(nodes.map((n) => n.role)).toEqual(['master', 'master', 'master', 'replica']);
    expect(nodes[0]).toMatchObject({ id: 'a1', host: '127.0.0.1', port: 30001, myself: true, slots: [[0, 5460]] });
    expect(nodes[1]!.slots).toEqual([[5461, 10922]]);
    expect(nodes[2]).toMatchObject({ failed: true, linkState: 'disconnected' });
    expect(nodes[3]).toMatchObject({ masterId: 'a1', role: 'replica' });
  });
});

describe('parseInfo', () => {
  it('ignores sections and keeps values with colons', () => {
    expect(parseInfo('# Cluster\r\ncluster_state:ok\r\nmaster_host:127.0.0.1:1\r\n')).toEqual({
      cluster_state: 'ok',
      master_host: '127.0.0.1:1',
    });
  });
});
