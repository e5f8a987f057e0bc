/**
 * Each running local instance is its own host on a network of two: a network namespace of its
 * own (owned by its user namespace), joined to the host by a veth pair with a /30 of its own. The instance can reach the
 * host's side of that pair and nothing else (no default route, nothing forwarded), so two
 * instances can both listen on port 80, and the host (Packer, Ansible, bake) reaches each one's
 * sshd at its own address.
 *
 * Addresses come from 198.18.0.0/15, which RFC 2544 reserves for benchmarking and real networks
 * never use; a slot that overlaps a route the host already has is skipped. Slots are claimed
 * machine-wide (several bakes and test runs share one kernel): slot N is taken while the bake
 * that claimed it lives or the namespace `bake-N` has processes.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';
import { isAlive, withPidLock } from './rootfs-lock.js';

/** First address of the pool (198.18.0.0) as a number, and how many /30 slots it holds. */
const POOL_START = 198 * 2 ** 24 + 18 * 2 ** 16;
const POOL_SLOTS = (1 << 17) / 4;
const NETNS_DIR = '/run/netns';
/** Machine-wide: the allocation lock and, per slot, the pid of the bake that claimed it. */
const CLAIMS_DIR = '/run/bake-local-cloud';

export interface InstanceNetwork {
  slot: number;
  /** `ip netns` name, also a file under /run/netns that systemd-nspawn joins. */
  namespace: string;
  /** Host end of the veth pair; the instance's end is `eth0`. */
  hostInterface: string;
  /** The host's address on the pair: where the instance finds the apt proxy. */
  hostIp: string;
  /** The instance's address: what DescribeInstances reports and sshd listens on. */
  ip: string;
  prefixLength: 30;
}

/** The addresses and names of slot N (pure). */
export function networkOfSlot(slot: number): InstanceNetwork {
  if (!Number.isInteger(slot) || slot < 0 || slot >= POOL_SLOTS) throw new CloudError(`no network slot ${slot}`);
  const base = POOL_START + slot * 4;
  return {
    slot,
    namespace: `bake-${slot}`,
    hostInterface: `bake${slot}h`,
    hostIp: ipOf(base + 1),
    ip: ipOf(base + 2),
    prefixLength: 30,
  };
}

/** The network an instance address belongs to, if it is one of the pool's. */
export function networkOfAddress(ip: string): InstanceNetwork | undefined {
  const offset = valueOf(ip) - POOL_START;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || offset < 0 || offset % 4 !== 2 || offset / 4 >= POOL_SLOTS) return undefined;
  return networkOfSlot((offset - 2) / 4);
}

function ipOf(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function valueOf(ip: string): number {
  return ip.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
}

/** True when a.b.c.d/len and the slot's /30 share an address. */
export function overlaps(cidr: string, slot: number): boolean {
  const [ip, len = '32'] = cidr.split('/');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const bits = Number(len);
  const size = 2 ** (32 - bits);
  const start = Math.floor(valueOf(ip) / size) * size;
  const slotStart = valueOf(networkOfSlot(slot).hostIp) - 1;
  return start < slotStart + 4 && slotStart < start + size;
}

/**
 * Claims a slot for an instance, preferring the one it had before (a stopped instance keeps its
 * address when it is free). The namespace itself is the instance's own, made by systemd-nspawn
 * inside the instance's user namespace (so the instance may manage it: CAP_NET_ADMIN there is
 * its root's); attachInstanceNetwork wires it to the host once nspawn has made it.
 */
export async function claimInstanceNetwork(preferredSlot?: number): Promise<InstanceNetwork> {
  return underNetworkLock(async () => {
    const routes = await hostRoutes();
    const free = (slot: number) => !routes.some((cidr) => overlaps(cidr, slot));
    const candidates = preferredSlot === undefined ? [] : [preferredSlot];
    for (let slot = 0; slot < POOL_SLOTS; slot++) {
      if (slot !== preferredSlot) candidates.push(slot);
      for (const candidate of candidates.splice(0)) {
        if (!free(candidate)) continue;
        const net = networkOfSlot(candidate);
        // A stopped instance of a living bake keeps its claim without a namespace.
        const owner = await ownerOf(net);
        if (Number.isInteger(owner) && isAlive(owner)) continue;
        if (existsSync(path.join(NETNS_DIR, net.namespace)) && !(await reclaimAbandoned(net))) continue;
        await writeFile(claimFile(net), `${process.pid}\n`);
        // A placeholder under the slot's name: every bake, an older one too, sees the slot taken.
        await ip('netns', 'add', net.namespace);
        return net;
      }
    }
    throw new CloudError('no free network slot for a local instance in 198.18.0.0/15 (terminate some local instances)');
  });
}

/**
 * Names the network namespace of the instance whose init is `pid` (`ip netns attach`, so the
 * host's tools reach it by name) and joins it to the host with a veth pair: `eth0` inside, the
 * host end guarded by the host firewall (src/local-cloud/host-firewall.ts).
 */
export async function attachInstanceNetwork(network: InstanceNetwork, pid: number): Promise<void> {
  try {
    // The placeholder gives its name to the instance's namespace under the lock: no other bake
    // ever sees the slot without a namespace.
    await underNetworkLock(async () => {
      await deleteNamespace(network);
      await ip('netns', 'attach', network.namespace, String(pid));
    });
    await ip('link', 'add', network.hostInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', network.namespace);
    await ip('addr', 'add', `${network.hostIp}/${network.prefixLength}`, 'dev', network.hostInterface);
    await ip('link', 'set', network.hostInterface, 'up');
    await ip('-n', network.namespace, 'addr', 'add', `${network.ip}/${network.prefixLength}`, 'dev', 'eth0');
    await ip('-n', network.namespace, 'link', 'set', 'eth0', 'up');
    await ip('-n', network.namespace, 'link', 'set', 'lo', 'up');
  } catch (error) {
    await detachInstanceNetwork(network);
    throw error;
  }
}

/**
 * A local VM's network: the same namespace, address and host end as a container's, but the
 * namespace is the placeholder the slot was claimed with (qemu runs in it as an unprivileged
 * uid; the guest has a kernel of its own and never sees the namespace). The veth's inner end and
 * the VM's tap device are bridged there, so the VM's eth0 is on the /30 the container's would be.
 */
export async function attachVmNetwork(network: InstanceNetwork, tap: string): Promise<void> {
  try {
    await ip('link', 'add', network.hostInterface, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', network.namespace);
    await ip('addr', 'add', `${network.hostIp}/${network.prefixLength}`, 'dev', network.hostInterface);
    await ip('link', 'set', network.hostInterface, 'up');
    const inside = (...args: string[]) => ip('-n', network.namespace, ...args);
    await inside('link', 'add', 'br0', 'type', 'bridge');
    await inside('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    for (const port of ['veth0', tap]) await inside('link', 'set', port, 'master', 'br0');
    for (const link of ['veth0', tap, 'br0', 'lo']) await inside('link', 'set', link, 'up');
  } catch (error) {
    await detachInstanceNetwork(network);
    throw error;
  }
}

/**
 * Forgets the instance's namespace (a placeholder takes its name again: the slot stays claimed)
 * and deletes the host end of the pair.
 */
export async function detachInstanceNetwork(network: InstanceNetwork): Promise<void> {
  await underNetworkLock(async () => {
    await deleteNamespace(network);
    await ip('netns', 'add', network.namespace);
  });
  // The pair goes with the namespace once nothing runs in it; a host end left behind goes now.
  await execa('ip', ['link', 'delete', network.hostInterface], { reject: false });
}

/** Deletes the namespace (the instance's or the placeholder) and gives the slot up. */
export async function removeInstanceNetwork(network: InstanceNetwork): Promise<void> {
  await deleteNamespace(network);
  await execa('ip', ['link', 'delete', network.hostInterface], { reject: false });
  await rm(claimFile(network), { force: true });
}

async function deleteNamespace(network: InstanceNetwork): Promise<void> {
  if (!existsSync(path.join(NETNS_DIR, network.namespace))) return;
  const result = await execa('ip', ['netns', 'delete', network.namespace], { reject: false, all: true });
  if (result.failed && existsSync(path.join(NETNS_DIR, network.namespace))) {
    throw new CloudError(`could not delete network namespace ${network.namespace}: ${String(result.all).trim()}`);
  }
}

/** Processes inside the namespace: a booted container's init and everything it started. */
export async function processesInNetwork(network: InstanceNetwork): Promise<number[]> {
  const result = await execa('ip', ['netns', 'pids', network.namespace], { reject: false });
  return result.failed ? [] : result.stdout.split(/\s+/).filter(Boolean).map(Number);
}

/**
 * A namespace whose claiming bake is gone and in which nothing runs is left over from a crash:
 * removed, and true. A namespace another living bake holds is left alone.
 */
export async function removeNetworkIfAbandoned(network: InstanceNetwork): Promise<boolean> {
  // Under the allocation lock: a slot another process is claiming right now is not abandoned.
  return underNetworkLock(async () => {
    if (!existsSync(path.join(NETNS_DIR, network.namespace))) {
      const owner = await ownerOf(network);
      if (Number.isInteger(owner) && isAlive(owner)) return false;
      await rm(claimFile(network), { force: true });
      return true;
    }
    return reclaimAbandoned(network);
  });
}

/** Slots are claimed and reclaimed by one process at a time, machine-wide. */
async function underNetworkLock<T>(action: () => Promise<T>): Promise<T> {
  await mkdir(CLAIMS_DIR, { recursive: true, mode: 0o755 });
  return withPidLock(path.join(CLAIMS_DIR, 'network.lock'), action, { timeoutMs: 60_000 });
}

async function ownerOf(network: InstanceNetwork): Promise<number> {
  return Number.parseInt((await readFile(claimFile(network), 'utf8').catch(() => '')).trim(), 10);
}

async function reclaimAbandoned(network: InstanceNetwork): Promise<boolean> {
  const owner = await ownerOf(network);
  if (Number.isInteger(owner) && isAlive(owner)) return false;
  if ((await processesInNetwork(network)).length) return false;
  await removeInstanceNetwork(network);
  return true;
}

/** Where the pid of the process that claimed the slot is kept. */
export function claimFile(network: InstanceNetwork): string {
  return path.join(CLAIMS_DIR, `${network.namespace}.owner`);
}

/** Every IPv4 destination the host routes somewhere, in any table, but the pool's own veths. */
async function hostRoutes(): Promise<string[]> {
  const result = await execa('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { reject: false });
  return result.stdout
    .split('\n')
    .filter((line) => !/ dev bake\d+h\b/.test(line))
    .map((line) => line.trim().split(/\s+/))
    .map((words) => (/^(local|broadcast|unicast|multicast)$/.test(words[0]) ? words[1] : words[0]))
    .filter((dest): dest is string => !!dest && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dest));
}

async function ip(...args: string[]): Promise<void> {
  const result = await execa('ip', args, { reject: false, all: true });
  if (result.failed)
    throw new CloudError(`ip ${args.join(' ')} failed: ${String(result.all ?? result.message).trim()}`);
}

// An nftables table of the instance's own namespace: the host's and other instances' rules are untouched.
const SSH_HOLD_TABLE = 'bake_ssh_hold';

/**
 * Refuses TCP connections to `port` in the instance's namespace with a reset (what a client sees
 * before sshd listens: ssh and Packer retry at once, nobody waits on a dropped SYN). Idempotent.
 */
export async function refuseTcpPort(network: InstanceNetwork, port: number): Promise<void> {
  const rules = [
    `table inet ${SSH_HOLD_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    tcp dport ${Math.trunc(port)} reject with tcp reset`,
    '  }',
    '}',
  ].join('\n');
  await allowTcpPorts(network);
  await execa('ip', ['netns', 'exec', network.namespace, 'nft', '-f', '-'], { input: `${rules}\n` });
}

/** Removes what refuseTcpPort added; nothing to remove is fine. */
export async function allowTcpPorts(network: InstanceNetwork): Promise<void> {
  await execa('ip', ['netns', 'exec', network.namespace, 'nft', 'delete', 'table', 'inet', SSH_HOLD_TABLE], {
    reject: false,
  });
}
