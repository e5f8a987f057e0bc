/**
 * The host's side of the local instances' isolation, one nftables table in the host's network
 * namespace (where no instance has any right):
 * - only root (bake, and Packer, Ansible and ssh it starts) reaches an instance's address; any
 *   other local user's connection is refused, so a user of the machine cannot log in to a build;
 * - an instance reaches the host only at the apt proxy's port on the host end of its own veth
 *   (nothing else the host serves on 0.0.0.0 or on that address), and nothing is forwarded from
 *   or to an instance (not to another instance, not out).
 * Interfaces are guarded by name as bake wires them, so instances of an older bake on the same
 * machine are left as they were. The table is versioned: a change of its rules is a new name.
 */
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';
import type { InstanceNetwork } from './instance-network.js';

export const HOST_FIREWALL_TABLE = 'bake_local_cloud_v1';
/** The pool every instance address comes from (instance-network.ts). */
const POOL = '198.18.0.0/15';

export function renderHostFirewall(): string {
  return `table inet ${HOST_FIREWALL_TABLE} {
  set guarded { type ifname; }
  set allowed { type ifname . ipv4_addr . ipv4_addr . inet_service; }
  chain output {
    type filter hook output priority filter; policy accept;
    ip daddr ${POOL} meta skuid != 0 counter reject with icmp type admin-prohibited
  }
  chain input {
    type filter hook input priority filter - 10; policy accept;
    iifname @guarded ct state established,related accept
    iifname . ip saddr . ip daddr . tcp dport @allowed ct state new accept
    iifname @guarded counter drop
  }
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    iifname @guarded counter drop
    oifname @guarded counter drop
  }
}
`;
}

async function nft(args: string[], input?: string): Promise<{ failed: boolean; text: string }> {
  const result = await execa('nft', args, { input, reject: false, all: true });
  return { failed: result.failed, text: String(result.all ?? result.message).trim() };
}

/**
 * Guards the instance's host interface (before it exists: nothing passes before the rules do)
 * and allows its address the proxy port on the host end. Call under the network lock: the table
 * is made once per machine.
 */
export async function guardInstanceNetwork(network: InstanceNetwork, proxyPort: number): Promise<void> {
  if ((await nft(['list', 'table', 'inet', HOST_FIREWALL_TABLE])).failed) {
    const made = await nft(['-f', '-'], renderHostFirewall());
    if (made.failed) throw new CloudError(`could not add the local cloud's host firewall: ${made.text}`);
  }
  const elements = [
    ['guarded', `{ "${network.hostInterface}" }`],
    ['allowed', `{ "${network.hostInterface}" . ${network.ip} . ${network.hostIp} . ${Math.trunc(proxyPort)} }`],
  ];
  for (const [set, element] of elements) {
    const added = await nft(['add', 'element', 'inet', HOST_FIREWALL_TABLE, set, element]);
    if (added.failed) throw new CloudError(`could not guard ${network.hostInterface}: ${added.text}`);
  }
}

/** Removes what guardInstanceNetwork added for this network; missing elements are fine. */
export async function unguardInstanceNetwork(network: InstanceNetwork, proxyPort: number): Promise<void> {
  await nft([
    'delete',
    'element',
    'inet',
    HOST_FIREWALL_TABLE,
    'allowed',
    `{ "${network.hostInterface}" . ${network.ip} . ${network.hostIp} . ${Math.trunc(proxyPort)} }`,
  ]);
  await nft(['delete', 'element', 'inet', HOST_FIREWALL_TABLE, 'guarded', `{ "${network.hostInterface}" }`]);
}
