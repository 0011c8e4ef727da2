import { formatAddress, numberField, parseClusterNodes, parseInfoFields, splitAddress } from './redis-info';

describe('Redis reply parsers', () => {
  it('reads INFO fields and skips section headers', () => {
    const info = '# Stats\r\nkeyspace_hits:12\r\nkeyspace_misses:3\r\n\r\n# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n';
    const f = parseInfoFields(info);
    expect(numberField(f, 'keyspace_hits')).toBe(12);
    expect(f.get('role')).toBe('slave');
    expect(numberField(f, 'master_host')).toBeUndefined();
    expect(numberField(f, 'absent')).toBeUndefined();
  });

  it('reads CLUSTER NODES, including Redis 7 hostnames, and leaves out nodes it cannot probe', () => {
    const text = [
      '07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected',
      '67ed 127.0.0.1:30002@40002,redis-1.svc master - 0 1426238316232 2 connected 5461-10922',
      '292f :30003@40003 myself,master - 0 0 3 connected 10923-16383',
      'aaaa 127.0.0.1:30009@40009 master,fail - 1426238316232 1426238316232 9 disconnected',
      'bbbb 127.0.0.1:30010@40010 handshake - 0 0 0 connected',
      'cccc :0@0 master,noaddr - 0 0 0 disconnected',
      '',
    ].join('\n');
    expect(parseClusterNodes(text)).toEqual([
      { id: '07c3', address: '127.0.0.1:30004', role: 'replica', myself: false, failing: false },
      { id: '67ed', address: '127.0.0.1:30002', role: 'master', myself: false, failing: false },
      { id: '292f', address: '', role: 'master', myself: true, failing: false },
      { id: 'aaaa', address: '127.0.0.1:30009', role: 'master', myself: false, failing: true },
    ]);
  });

  it('formats node labels with brackets for IPv6 and splits them back', () => {
    expect(formatAddress('::1', 7000)).toBe('[::1]:7000');
    expect(splitAddress('[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    expect(splitAddress('10.0.0.1:6379')).toEqual({ host: '10.0.0.1', port: 6379 });
  });
});
