/** Shared by the boot-host tests (and the e2e): the base cache, keys, ssh and leftovers. */
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { networkOfAddress } from '../../src/local-cloud/instance-network.js';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';

const repo = path.resolve(import.meta.dirname, '../..');

/** One debootstrap for every test run on this machine: $BAKE_ROOTFS_CACHE or <repo>/.bake/test-cache. */
export function testRootfsCache(): string {
  const dir = process.env.BAKE_ROOTFS_CACHE
    ? path.resolve(process.env.BAKE_ROOTFS_CACHE)
    : path.join(repo, '.bake', 'test-cache');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The base root filesystem instances boot from, made before a file's tests start (in its
 * beforeAll): on a machine without the cache yet (a fresh checkout or CI runner), debootstrap
 * takes minutes — or another process is making it — and that wait must not land in the first
 * test that launches an instance and use up its time.
 */
export async function testBaseRootfs(): Promise<string> {
  return ensureBaseRootfs({ cacheDir: testRootfsCache() });
}

/** A scratch directory whose parents are all root-owned and not world-writable (unlike /tmp). */
export function scratchUnderRepo(name: string): string {
  const dir = path.join(repo, '.bake', 'test-host', `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

export async function makeKeyPair(dir: string): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = path.join(dir, 'id_ed25519');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bake test', '-f', privateKey]);
  return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, 'utf8') };
}

/** `user`: root by default (the instance host writes the key there); the image's login, e.g. admin, once cloud-init has given it the key. */
export function sshArgs(privateKey: string, endpoint: { ip: string; sshPort: number }, user = 'root'): string[] {
  return [
    '-i',
    privateKey,
    '-p',
    String(endpoint.sshPort),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-o',
    'LogLevel=ERROR',
    `${user}@${endpoint.ip}`,
  ];
}

/** Runs a command in the instance with the real ssh client. */
export async function ssh(
  privateKey: string,
  endpoint: { ip: string; sshPort: number },
  command: string,
  user = 'root',
) {
  return execa('ssh', [...sshArgs(privateKey, endpoint, user), command], { reject: false, timeout: 60_000, all: true });
}

/** Processes still running anything from under `dir`: an sshd reading its config there, or a chrooted shell. */
export function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const root = readlinkSync(`/proc/${entry}/root`);
      if (cmdline.includes(dir) || root.startsWith(dir)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** What is left of the networks of these instance addresses: namespaces and host addresses (none once terminated). */
export async function networkLeftovers(ips: string[]): Promise<string[]> {
  const namespaces = (await execa('ip', ['netns', 'list'])).stdout;
  const addresses = (await execa('ip', ['-o', '-4', 'addr'])).stdout;
  const found: string[] = [];
  for (const ip of ips) {
    const network = networkOfAddress(ip);
    if (!network) throw new Error(`${ip} is not a local-cloud instance address`);
    if (namespaces.split('\n').some((line) => line.split(' ')[0] === network.namespace))
      found.push(`namespace ${network.namespace}`);
    if (addresses.includes(` ${network.hostIp}/`)) found.push(`host address ${network.hostIp}`);
  }
  return found;
}

/** Network namespaces (and their claims) that the process `pid` created and that still exist. */
export function networksClaimedBy(pid: number): string[] {
  let names: string[] = [];
  try {
    names = readdirSync('/run/bake-local-cloud');
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.owner'))
    .filter((name) => {
      try {
        return readFileSync(path.join('/run/bake-local-cloud', name), 'utf8').trim() === String(pid);
      } catch {
        return false;
      }
    })
    .map((name) => name.replace(/\.owner$/, ''));
}
