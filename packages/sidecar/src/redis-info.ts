/**
 * Parsers for the text replies the probe reads: `INFO`, `CLUSTER INFO` and `CLUSTER NODES`.
 */

/** `field:value` lines of INFO or CLUSTER INFO (section headers and blank lines skipped). */
export function parseInfoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

/** A field as a finite number, or undefined when absent or not numeric. */
export function numberField(fields: Map<string, string>, name: string): number | undefined {
  const raw = fields.get(name);
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/** A node as the cluster announces it in CLUSTER NODES. */
export interface ClusterNodeView {
  /** Node id. */
  readonly id: string;
  /** `host:port` of the client port, or '' when the node does not know its own address yet. */
  readonly address: string;
  readonly role: 'master' | 'replica';
  /** The line's flags include `myself`: this is the node that answered. */
  readonly myself: boolean;
  /** Flagged `fail` or `fail?` by the node that answered. */
  readonly failing: boolean;
}

/**
 * Parses CLUSTER NODES. Nodes without an address (`noaddr`) or still in `handshake` are left
 * out: they cannot be probed and would come and go under random ids.
 */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  const nodes: ClusterNodeView[] = [];
  for (const line of text.split(/\r?\n/)) {
    const parts = line.trim().split(' ');
    const [id, addr, flagText] = parts;
    if (!id || !addr || !flagText || parts.length < 8) continue;
    const flags = flagText.split(',');
    if (flags.includes('noaddr') || flags.includes('handshake')) continue;
    // `ip:port@cport` or, from Redis 7, `ip:port@cport,hostname`.
    const hostPort = addr.split('@')[0] ?? '';
    const colon = hostPort.lastIndexOf(':');
    const host = colon > 0 ? hostPort.slice(0, colon) : '';
    const port = Number(hostPort.slice(colon + 1));
    const address = host && Number.isInteger(port) && port > 0 ? formatAddress(host, port) : '';
    nodes.push({
      id,
      address,
      role: flags.includes('master') ? 'master' : 'replica',
      myself: flags.includes('myself'),
      failing: flags.includes('fail') || flags.includes('fail?'),
    });
  }
  return nodes;
}

/** `host:port`, with brackets around an IPv6 host; the value of the `node` label. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits a {@link formatAddress} string back into host and port. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}
