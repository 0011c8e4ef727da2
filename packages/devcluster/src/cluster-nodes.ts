/** One line of `CLUSTER NODES`, parsed. */
export interface ClusterNodeEntry {
  id: string;
  host: string;
  port: number;
  flags: string[];
  /** Node id of the master this node replicates, or undefined for a master. */
  masterId: string | undefined;
  linkState: 'connected' | 'disconnected';
  /** Slot ranges owned, inclusive. Importing/migrating markers are ignored. */
  slots: Array<[number, number]>;
  role: 'master' | 'replica';
  failed: boolean;
  myself: boolean;
}

/** Parses the text reply of `CLUSTER NODES`. */
export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  const out: ClusterNodeEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const parts = trimmed.split(' ');
    const [id, addr, flagStr, master, , , , link, ...slotParts] = parts;
    if (!id || !addr || !flagStr || !link) continue;
    const hostPort = addr.split('@')[0] ?? '';
    const idx = hostPort.lastIndexOf(':');
    const flags = flagStr.split(',');
    const slots: Array<[number, number]> = [];
    for (const s of slotParts) {
      if (s.startsWith('[')) continue;
      const [a, b] = s.split('-');
      const start = Number(a);
      const end = b === undefined ? start : Number(b);
      if (Number.isInteger(start) && Number.isInteger(end)) slots.push([start, end]);
    }
    out.push({
      id,
      host: hostPort.slice(0, idx),
      port: Number(hostPort.slice(idx + 1)),
      flags,
      masterId: master && master !== '-' ? master : undefined,
      linkState: link === 'connected' ? 'connected' : 'disconnected',
      slots,
      role: flags.includes('master') ? 'master' : 'replica',
      failed: flags.includes('fail') || flags.includes('fail?') || flags.includes('noaddr'),
      myself: flags.includes('myself'),
    });
  }
  return out;
}

/** Parses `INFO` or `CLUSTER INFO` text into a key/value map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Splits 16384 slots into `masters` contiguous, as-even-as-possible ranges. */
export function splitSlots(masters: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  const per = Math.floor(16384 / masters);
  const extra = 16384 % masters;
  let start = 0;
  for (let i = 0; i < masters; i++) {
    const size = per + (i < extra ? 1 : 0);
    ranges.push([start, start + size - 1]);
    start += size;
  }
  return ranges;
}
