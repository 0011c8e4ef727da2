import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { parseClientList } from '../../../packages/sdk/src/test-support/harness';

/**
 * The least-privilege ACL of a sessioncache client, as documented in docs/security.md
 * ("Redis ACL"). Found by running every SDK operation (with the near cache, WAIT and getMany)
 * against a user that starts from `-@all` and reading `ACL LOG` (the tests assert it stays
 * empty; none removes rules one at a time). `sc:` is the default keyPrefix.
 *
 * - keys: only the prefix (scripts run with the caller's ACL, so every key they touch counts);
 * - channel: only the invalidation channel of CLIENT TRACKING;
 * - commands: EVALSHA/EVAL and, inside the scripts, the data commands they call; WAIT
 *   (durability); PING, CLIENT SETNAME/ID/TRACKING and SUBSCRIBE (near-cache invalidation);
 *   INFO and CLUSTER SLOTS/INFO (ioredis' ready check and slot map); ASKING (an ASK
 *   redirection during a resharding).
 */
export const SDK_ACL_RULES =
  'resetkeys ~sc:* resetchannels &__redis__:invalidate -@all ' +
  '+evalsha +eval +time +exists +hmget +hget +hgetall +hkeys +hstrlen +hset +hdel +del +set +pexpire +pttl +zadd +zrange +zrem +zscore ' +
  '+wait +asking +ping +info +client|setname +client|id +client|tracking +subscribe +cluster|slots +cluster|info';

/** `ACL SETUSER <name> reset on >password <rules>` on one node (ACLs are per node, not replicated). */
export async function setUser(admin: Redis, name: string, password: string, rules: string): Promise<void> {
  await admin.call('ACL', 'SETUSER', name, 'reset', 'on', `>${password}`, ...rules.split(' '));
}

/** `ACL LOG` entries of one node as `reason object context` strings (denials since the last reset). */
export async function aclDenials(admin: Redis): Promise<string[]> {
  const log = (await admin.call('ACL', 'LOG')) as unknown[][];
  return log.map((entry) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < entry.length; i += 2) o[String(entry[i])] = entry[i + 1];
    return `${String(o.reason)} ${String(o.object)} (${String(o.context)})`;
  });
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made by the openssl CLI. */
export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second, unrelated CA (a client trusting only it must refuse the server). */
  otherCa: string;
  remove(): void;
}

export function makeCertificates(): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessioncache-tls-'));
  const f = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=sessioncache test CA', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=unrelated CA', '-keyout', f('other-ca.key'), '-out', f('other-ca.crt'));
  fs.writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  fs.writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [who, subject] of [
    ['server', '/CN=127.0.0.1'],
    ['client', '/CN=sessioncache-app'],
  ] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`));
    openssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(`${who}.ext`), '-out', f(`${who}.crt`));
  }
  return {
    dir,
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCa: f('other-ca.crt'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Turns on a TLS listener on `tlsPort` of a running node (CONFIG SET at runtime: redis 7 can),
 * requiring client certificates (tls-auth-clients yes, the default).
 */
export async function enableTls(admin: Redis, certs: TestCertificates, tlsPort: number): Promise<void> {
  await admin.config('SET', 'tls-cert-file', certs.serverCert, 'tls-key-file', certs.serverKey, 'tls-ca-cert-file', certs.ca, 'tls-auth-clients', 'yes', 'tls-port', String(tlsPort));
}

/** ioredis `tls` options of a client that trusts `ca` and presents the client certificate. */
export function clientTls(certs: TestCertificates, ca = certs.ca): { ca: Buffer; cert: Buffer; key: Buffer } {
  return { ca: fs.readFileSync(ca), cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) };
}

/** Local ports of the server side of every client connection whose name starts with `sessioncache`. */
export async function sessioncacheServerPorts(admin: Redis): Promise<Array<{ name: string; port: number }>> {
  return parseClientList(String(await admin.client('LIST')))
    .map((c) => ({ name: c.name ?? '', port: Number(c.laddr?.slice(c.laddr.lastIndexOf(':') + 1)) }))
    .filter((c) => c.name.startsWith('sessioncache'));
}
