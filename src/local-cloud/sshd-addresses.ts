/**
 * Each instance gets its own loopback address (127.0.0.2 … 127.0.0.254), all with the same SSH
 * port, as EC2 instances share port 22 on different private IPs. The address is written into
 * the instance's directory and kept until it is terminated, so a restarted bake (or a
 * stop/start) gives the instance the same address and never hands it to another.
 */
import { createServer } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudError } from '../errors/index.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';

export const ADDRESS_FILE = 'address';
const FIRST = 2;
const LAST = 254;

/**
 * The address for `instanceId`: the one it already has if nobody else claims it and it can be
 * bound, else the lowest free one. `avoid` lists addresses just found taken by another process.
 * Callers run allocations one at a time (the file is the claim).
 */
export async function allocateAddress(instancesDir: string, instanceId: string, port: number, avoid: ReadonlySet<string> = new Set()): Promise<string> {
  const claims = await addressClaims(instancesDir);
  const own = claims.get(instanceId);
  const taken = new Set([...claims].filter(([id]) => id !== instanceId).map(([, ip]) => ip));
  const candidates = [own, ...range()].filter((ip): ip is string => !!ip && !taken.has(ip) && !avoid.has(ip));
  for (const ip of candidates) {
    if (!(await canBind(ip, port))) continue;
    if (ip !== own) await writeFileAtomic(path.join(instancesDir, instanceId, ADDRESS_FILE), `${ip}\n`);
    return ip;
  }
  throw new CloudError(`no free loopback address for port ${port}: 127.0.0.${FIRST}-${LAST} are all in use (terminate some local instances)`);
}

/** Instance id → the address its directory records. */
export async function addressClaims(instancesDir: string): Promise<Map<string, string>> {
  const claims = new Map<string, string>();
  const names = await readdir(instancesDir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const ip = (await readFile(path.join(instancesDir, name, ADDRESS_FILE), 'utf8').catch(() => '')).trim();
    if (/^127\.0\.0\.\d{1,3}$/.test(ip)) claims.set(name, ip);
  }
  return claims;
}

function range(): string[] {
  return Array.from({ length: LAST - FIRST + 1 }, (_, i) => `127.0.0.${FIRST + i}`);
}

function canBind(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: ip, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
