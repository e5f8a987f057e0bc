/**
 * What a local instance may and may not do to the machine it runs on, and what the machine's
 * other users may do to it: real nspawn, real nftables, a real uid 1000 on the host.
 */
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootHost } from '../../src/local-cloud/boot-host.js';
import { BASE_IMAGE, type InstanceEndpoint, type InstanceHost } from '../../src/local-cloud/instance-host.js';
import { networkOfAddress } from '../../src/local-cloud/instance-network.js';
import { uidBaseOfSlot } from '../../src/local-cloud/instance-root.js';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { renderVerifyScript } from '../../src/packer/verify-script.js';
import { makeKeyPair, scratchUnderRepo, ssh, testRootfsCache } from './instances.js';

const fixtures = path.join(import.meta.dirname, '../fixtures/local-cloud-host');
const cache = testRootfsCache();
const stateDir = scratchUnderRepo('isolation');
const lines: string[] = [];
let host: InstanceHost;
let keys: { privateKey: string; publicKey: string };
let instance: InstanceEndpoint;
/** A service of the host's on every address, as a database or a CI agent may run one. */
let hostService: Server;
let hostServicePort: number;

/** The host's first user (jenkins on many agents), as a shell command would run it. */
function asUid1000(command: string) {
  return execa('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'sh', '-c', command], {
    reject: false,
    all: true,
    timeout: 30_000,
  });
}

/** `bash -c 'exec 3<>/dev/tcp/…'`: exits 0 only when the TCP connection is made. */
const connectCommand = (ip: string, port: number) => `timeout 5 bash -c 'exec 3<>/dev/tcp/${ip}/${port}'`;

const hostEnd = () => networkOfAddress(instance.ip)!.hostIp;

beforeAll(async () => {
  await ensureBaseRootfs({ cacheDir: cache });
  keys = await makeKeyPair(stateDir);
  host = createBootHost({ stateDir, log: (line) => lines.push(line), rootfsCache: cache });
  instance = await host.launch({ instanceId: 'i-isolated', imageId: BASE_IMAGE, authorizedKey: keys.publicKey });
  hostService = createServer((socket) => socket.end('host secret\n'));
  await new Promise<void>((resolve) => hostService.listen(0, '0.0.0.0', resolve));
  hostServicePort = (hostService.address() as { port: number }).port;
}, 900_000);

afterAll(async () => {
  hostService?.close();
  await host?.close();
  console.log(['isolation, log:', ...lines.map((l) => `  ${l}`)].join('\n'));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('a local instance and the host’s other users', () => {
  it('runs its users as host uids of their own: its root is nobody on the host, host uid 1000 is not its admin', async () => {
    const inside = await ssh(
      keys.privateKey,
      instance,
      'cat /proc/self/uid_map; id -u admin; nohup runuser -u admin -- sleep 600 >/dev/null 2>&1 & sleep 1',
    );
    expect(inside.exitCode, inside.all).toBe(0);
    const [uidMap, adminUid] = inside.stdout.split('\n');
    const base = uidBaseOfSlot(networkOfAddress(instance.ip)!.slot);
    expect(uidMap.trim().split(/\s+/)).toEqual(['0', String(base), '65536']);
    expect(adminUid).toBe('1000');
    const adminProcess = sleeperInside();
    expect(adminProcess).toBeDefined();
    const status = readFileSync(`/proc/${adminProcess}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(base + 1000));
  });

  it('lets host uid 1000 write no file of the instance, through /proc or through bake’s state folder', async () => {
    const adminProcess = sleeperInside();
    expect(adminProcess).toBeDefined();
    const instanceDir = path.join(stateDir, 'instances', 'i-isolated');
    for (const keys of [
      `/proc/${adminProcess}/root/home/admin/.ssh/authorized_keys`,
      `${instanceDir}/rootfs/home/admin/.ssh/authorized_keys`,
      `${instanceDir}/upper/home/admin/.ssh/authorized_keys`,
    ]) {
      const attempt = await asUid1000(`echo 'ssh-ed25519 AAAA planted' >> '${keys}'`);
      expect(attempt.exitCode, `${keys}: ${attempt.all}`).not.toBe(0);
    }
    const present = await ssh(keys.privateKey, instance, 'cat /home/admin/.ssh/authorized_keys');
    expect(present.stdout).toContain('bake test');
    expect(present.stdout).not.toContain('planted');
  });

  it('refuses every local user but root at the instance’s address', async () => {
    const other = await asUid1000(connectCommand(instance.ip, 22));
    expect(other.exitCode, other.all).not.toBe(0);
    const root = await execa('sh', ['-c', connectCommand(instance.ip, 22)], { reject: false });
    expect(root.exitCode).toBe(0);
  });

  it('gives the instance’s root no power over the host: no release_agent, no kernel module', async () => {
    const before = releaseAgents();
    const attempt = await ssh(
      keys.privateKey,
      instance,
      [
        'mkdir -p /tmp/cg',
        // Mounting works in its own cgroup namespace; release_agent needs host root.
        'mount -t cgroup -o memory cgroup /tmp/cg && echo /tmp/evil > /tmp/cg/release_agent && echo wrote',
        'for agent in /sys/fs/cgroup/*/release_agent; do echo /tmp/evil > "$agent" 2>/dev/null && echo "wrote $agent"; done',
        'modprobe dummy 2>/dev/null && echo loaded',
        'true',
      ].join('; '),
    );
    expect(attempt.stdout).not.toMatch(/wrote|loaded/);
    expect(releaseAgents()).toEqual(before);
  });
});

describe('a local instance manages its own network and nothing else', () => {
  it('reaches only the apt proxy’s port on its host end, even after it changes its own routes and addresses', async () => {
    const before = await ssh(
      keys.privateKey,
      instance,
      `${connectCommand(hostEnd(), hostServicePort)} && echo reached; ${connectCommand(hostEnd(), 3142)} && echo proxy`,
    );
    expect(before.stdout.trim()).toBe('proxy');
    const changed = await ssh(
      keys.privateKey,
      instance,
      [
        `ip route add default via ${hostEnd()}`,
        'ip addr add 198.18.255.250/32 dev eth0',
        'sysctl -qw net.ipv4.ip_forward=1',
        `${connectCommand(hostEnd(), hostServicePort)} && echo reached`,
        `${connectCommand('127.0.0.1', hostServicePort)} && echo reached-loopback`,
        'true',
      ].join('; '),
    );
    expect(changed.all).not.toMatch(/reached/);
    await ssh(keys.privateKey, instance, 'ip route del default; ip addr del 198.18.255.250/32 dev eth0');
  });

  it('runs a firewall role, a network hardening role and a time service role; its rules and sysctls stay inside', async () => {
    const hostSysctls = await execa('sysctl', ['-n', 'net.ipv4.conf.all.log_martians', 'net.ipv4.tcp_syncookies']);
    const hostRules = (await execa('nft', ['list', 'ruleset'])).stdout;
    // Something listens on the port the firewall role closes: the host reaches it before the role runs.
    await ssh(keys.privateKey, instance, 'nohup python3 -m http.server 8080 >/dev/null 2>&1 & sleep 1');
    expect((await execa('sh', ['-c', connectCommand(instance.ip, 8080)], { reject: false })).exitCode).toBe(0);

    const inventory = path.join(stateDir, 'inventory.json');
    writeFileSync(
      inventory,
      JSON.stringify({
        all: {
          hosts: {
            isolated: {
              ansible_host: instance.ip,
              ansible_user: 'root',
              ansible_ssh_private_key_file: keys.privateKey,
              ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
            },
          },
        },
      }),
    );
    const run = await execa('ansible-playbook', ['-i', inventory, path.join(fixtures, 'isolation.yml')], {
      reject: false,
      all: true,
      env: { ANSIBLE_NOCOLOR: '1', ANSIBLE_ROLES_PATH: path.join(fixtures, 'roles') },
    });
    expect(run.exitCode, run.all).toBe(0);

    // The port is closed as the host sees it; the server behind it still listens.
    expect((await execa('sh', ['-c', connectCommand(instance.ip, 8080)], { reject: false })).exitCode).not.toBe(0);
    const inside = await ssh(
      keys.privateKey,
      instance,
      'nft list tables; sysctl -n net.ipv4.conf.all.log_martians net.ipv4.tcp_syncookies; ss -Hltn sport = :8080 | wc -l',
    );
    expect(inside.stdout.split('\n')).toEqual(['table inet role_firewall', '1', '0', '1']);
    // Nothing of it on the host: not the rule set, not the sysctls.
    const after = (await execa('nft', ['list', 'ruleset'])).stdout;
    expect(after).not.toContain('role_firewall');
    expect(hostRules).not.toContain('role_firewall');
    expect((await execa('sysctl', ['-n', 'net.ipv4.conf.all.log_martians', 'net.ipv4.tcp_syncookies'])).stdout).toBe(
      hostSysctls.stdout,
    );
    // SSH (port 22) still works: the role's rules closed only their port.
    expect((await ssh(keys.privateKey, instance, 'true')).exitCode).toBe(0);
  }, 600_000);

  it('fails a service check of the time service with the reason a local instance can never run it', async () => {
    const script = renderVerifyScript([
      { kind: 'service', name: 'chrony', location: { file: 'recipe.yaml', line: 1, col: 1 } },
    ]);
    const result = await ssh(
      keys.privateKey,
      instance,
      `cat > /tmp/verify.sh <<'EOF'\n${script}\nEOF\nsh /tmp/verify.sh`,
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toContain(
      'chrony.service skipped: ConditionCapability=CAP_SYS_TIME is never true on a local instance',
    );
  });
});

/** The `sleep 600` the instance's admin started: a process in a user namespace other than the test's. */
function sleeperInside(): string | undefined {
  const own = readlinkSync('/proc/self/ns/user');
  return readdirSync('/proc').find((pid) => {
    try {
      return (
        /^\d+$/.test(pid) &&
        readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u0000600\u0000' &&
        readlinkSync(`/proc/${pid}/ns/user`) !== own
      );
    } catch {
      return false;
    }
  });
}

/** Every cgroup v1 hierarchy's release_agent on the host (run by the kernel as root when set). */
function releaseAgents(): Record<string, string> {
  const agents: Record<string, string> = {};
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    try {
      agents[hierarchy] = readFileSync(`/sys/fs/cgroup/${hierarchy}/release_agent`, 'utf8');
    } catch {
      // cgroup2 or no such file
    }
  }
  return agents;
}
