import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootHost } from '../../src/local-cloud/boot-host.js';
import { BASE_IMAGE, type InstanceEndpoint, type InstanceHost } from '../../src/local-cloud/instance-host.js';
import { ensureBaseRootfs, mountsUnder } from '../../src/local-cloud/rootfs.js';
import { makeKeyPair, networkLeftovers, processesUsing, scratchUnderRepo, ssh, testRootfsCache } from './instances.js';

const fixtures = path.join(import.meta.dirname, '../fixtures/local-cloud-host');
const cache = testRootfsCache();
const measured: Record<string, string> = {};
const lines: string[] = [];
const log = (line: string) => lines.push(line);

// Under /tmp, world-writable and sticky: nothing about booting may depend on the state dir's parents.
const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-boot-host-'));
let host: InstanceHost;
let keys: { privateKey: string; publicKey: string };

const userData = `#cloud-config
write_files:
  - path: /etc/written-by-user-data
    content: "from user-data\\n"
runcmd:
  - [sh, -c, "echo runcmd ran on $(hostname) > /var/tmp/runcmd-ran"]
`;

beforeAll(async () => {
  const started = Date.now();
  // The first run on a machine makes the debootstrap base (a few minutes); later runs find it.
  await ensureBaseRootfs({ cacheDir: cache, log });
  measured['base root filesystem (cached after the first run)'] = `${Date.now() - started} ms`;
  keys = await makeKeyPair(stateDir);
  host = createBootHost({ stateDir, log, rootfsCache: cache });
}, 900_000);

afterAll(async () => {
  await host?.close();
  console.log(
    [
      'boot host, measured:',
      ...Object.entries(measured).map(([k, v]) => `  ${k}: ${v}`),
      ...lines.map((l) => `  log: ${l}`),
    ].join('\n'),
  );
  rmSync(stateDir, { recursive: true, force: true });
});

function inventory(name: string, endpoints: Record<string, InstanceEndpoint>): string {
  const file = path.join(stateDir, `${name}.json`);
  const hosts = Object.fromEntries(
    Object.entries(endpoints).map(([id, e]) => [
      id,
      {
        ansible_host: e.ip,
        ansible_port: e.sshPort,
        ansible_user: 'root',
        ansible_ssh_private_key_file: keys.privateKey,
        ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
      },
    ]),
  );
  // JSON is YAML: ansible's yaml inventory plugin reads it, and JSON.stringify does the quoting.
  writeFileSync(file, JSON.stringify({ all: { hosts } }));
  return file;
}

function playbook(file: string, inventoryFile: string, extraVars: Record<string, string> = {}) {
  return execa('ansible-playbook', ['-i', inventoryFile, '-e', JSON.stringify(extraVars), path.join(fixtures, file)], {
    reject: false,
    all: true,
    env: {
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_ROLES_PATH: path.join(fixtures, 'roles'),
    },
  });
}

describe('a booted instance of the local cloud', () => {
  let first: InstanceEndpoint;
  let second: InstanceEndpoint;

  it('boots systemd as PID 1 with /proc, /sys and /dev, and answers over SSH on port 22 at an address of its own', async () => {
    const started = Date.now();
    first = await host.launch({
      instanceId: 'i-first',
      imageId: BASE_IMAGE,
      authorizedKey: keys.publicKey,
      userData: Buffer.from(userData),
    });
    measured['launch from base (overlay mount + boot until sshd answers)'] = `${Date.now() - started} ms`;
    expect(first.sshPort).toBe(22);
    expect(first.ip).toMatch(/^198\.1[89]\.\d+\.\d+$/);
    const result = await ssh(
      keys.privateKey,
      first,
      'cat /etc/debian_version; cat /proc/1/comm; test -e /sys/class/net/eth0 && test -c /dev/null && echo mounted; ip -o -4 addr show eth0',
    );
    expect(result.stderr).toBe('');
    const [debian, init, mounted, address] = result.stdout.split('\n');
    expect(debian).toMatch(/^12\.\d+$/);
    expect(init).toBe('systemd');
    expect(mounted).toBe('mounted');
    expect(address).toContain(`inet ${first.ip}/30`);
  });

  it('runs cloud-init at boot: the user-data’s write_files and runcmd are applied and `cloud-init status --wait` says done', async () => {
    const started = Date.now();
    const status = await ssh(keys.privateKey, first, 'cloud-init status --wait');
    measured['cloud-init done after sshd answered'] = `${Date.now() - started} ms`;
    expect(status.stdout, status.stderr).toMatch(/status: done/);
    const applied = await ssh(keys.privateKey, first, 'cat /etc/written-by-user-data /var/tmp/runcmd-ran');
    expect(applied.stdout).toBe(`from user-data\nruncmd ran on ip-${first.ip.replaceAll('.', '-')}`);
  });

  it('turns away a key that is not the instance’s key pair', async () => {
    const stranger = await makeKeyPair(mkdtempSync(path.join(stateDir, 'stranger-')));
    const result = await ssh(stranger.privateKey, first, 'true');
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('runs a role that starts a service, restarts it from a handler and templates facts from /proc', async () => {
    second = await host.launch({ instanceId: 'i-second', imageId: BASE_IMAGE, authorizedKey: keys.publicKey });
    const both = inventory('both', { 'i-first': first, 'i-second': second });
    const started = Date.now();
    const run = await playbook('greeter.yml', both);
    measured['ansible-playbook greeter on two instances'] = `${Date.now() - started} ms`;
    expect(run.exitCode, run.all).toBe(0);
    const nproc = (await ssh(keys.privateKey, first, 'nproc')).stdout;
    const served = await execa('curl', ['-sS', '--max-time', '10', `http://${first.ip}/`]);
    expect(served.stdout).toMatch(new RegExp(`^greeting=hello\nprocessors=${nproc}\nmemory_mb=\\d+$`));
    const active = await ssh(
      keys.privateKey,
      first,
      'systemctl is-active greeter; systemctl is-enabled greeter; cat /run/greeter/started',
    );

    // A changed template notifies the handler, which restarts the service.
    const rerun = await playbook('greeter.yml', inventory('first', { 'i-first': first }), { greeting: 'changed' });
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect(rerun.stdout).toMatch(/RUNNING HANDLER \[greeter : restart greeter\]/);
    const after = await ssh(
      keys.privateKey,
      first,
      'systemctl is-active greeter; systemctl is-enabled greeter; cat /run/greeter/started',
    );
    const [state, enabled, startedAt] = active.stdout.split('\n');
    expect([state, enabled]).toEqual(['active', 'enabled']);
    expect(after.stdout.split('\n').slice(0, 2)).toEqual(['active', 'enabled']);
    expect(after.stdout.split('\n')[2]).not.toBe(startedAt);
    expect((await execa('curl', ['-sS', '--max-time', '10', `http://${first.ip}/`])).stdout).toMatch(
      /^greeting=changed\n/,
    );
  }, 900_000);

  it('lets two instances listen on port 80 at once, each at its own address', async () => {
    expect(second.ip).not.toBe(first.ip);
    const listening = await ssh(keys.privateKey, second, 'ss -Hltn sport = :80');
    expect(listening.stdout).toMatch(/LISTEN/);
    const [a, b] = await Promise.all(
      [first, second].map((e) => execa('curl', ['-sS', '--max-time', '10', `http://${e.ip}/`])),
    );
    expect(a.stdout).toMatch(/^greeting=changed/);
    expect(b.stdout).toMatch(/^greeting=hello/);
  });

  it('keeps one instance from reaching another, even with a route to it', async () => {
    const attempt = await ssh(
      keys.privateKey,
      first,
      `ip route add ${second.ip}/32 dev eth0; timeout 5 bash -c 'exec 3<>/dev/tcp/${second.ip}/80' && echo reached; ip route del ${second.ip}/32 dev eth0; true`,
    );
    expect(attempt.all).not.toContain('reached');
  });

  it('reaches the Debian mirror with apt only through the host’s proxy, and nothing else', async () => {
    const started = Date.now();
    const apt = await ssh(
      keys.privateKey,
      second,
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tree >/dev/null && tree --version',
    );
    measured['apt-get update + install tree through the proxy'] = `${Date.now() - started} ms`;
    expect(apt.exitCode, apt.stderr).toBe(0);
    expect(apt.stdout).toMatch(/^tree v/);
    // No route anywhere but the host's end of the veth pair.
    const routes = await ssh(keys.privateKey, second, 'ip -4 route');
    expect(routes.stdout.trim().split('\n')).toHaveLength(1);
    expect(routes.stdout).not.toMatch(/default/);
  });

  it('is captured as an image that a new instance boots from, with the service enabled and running', async () => {
    await host.stop('i-first');
    const started = Date.now();
    await host.capture('i-first', 'ami-baked');
    measured['capture (stopped instance)'] = `${Date.now() - started} ms`;
    const launched = Date.now();
    const third = await host.launch({ instanceId: 'i-third', imageId: 'ami-baked', authorizedKey: keys.publicKey });
    measured['launch from a captured image'] = `${Date.now() - launched} ms`;
    const check = await ssh(keys.privateKey, third, 'systemctl is-active greeter; cat /etc/written-by-user-data');
    expect(check.stdout).toBe('active\nfrom user-data');
    expect((await execa('curl', ['-sS', '--max-time', '10', `http://${third.ip}/`])).stdout).toMatch(
      /^greeting=changed/,
    );
    await host.terminate('i-third');
  });

  it('refuses SSH while stopped and boots again with its files when started', async () => {
    expect((await ssh(keys.privateKey, first, 'true')).exitCode).toBe(255);
    const again = await host.start('i-first', keys.publicKey);
    expect(again).toEqual(first);
    expect((await ssh(keys.privateKey, again, 'systemctl is-active greeter')).stdout).toBe('active');
    // Captured by moving its changes into the image: what it writes now is its own, not the image's.
    await ssh(keys.privateKey, again, 'echo later > /etc/written-after-capture && rm /etc/written-by-user-data');
    expect(existsSync(path.join(stateDir, 'images/ami-baked/layer/etc/written-after-capture'))).toBe(false);
    expect(existsSync(path.join(stateDir, 'images/ami-baked/layer/etc/written-by-user-data'))).toBe(true);
  });

  it('keeps a change inside one instance out of the image and out of other instances', async () => {
    await ssh(keys.privateKey, second, 'echo mine > /etc/only-in-second');
    expect((await ssh(keys.privateKey, first, 'test -e /etc/only-in-second')).exitCode).toBe(1);
    expect(existsSync(path.join(stateDir, 'images/ami-baked/layer/etc/only-in-second'))).toBe(false);
  });

  it('shows its boot messages as console output', async () => {
    expect(await host.consoleOutput!('i-first')).toMatch(/Reached target.*Multi-User System/);
  });

  it('leaves no process, namespace, address, mount or filesystem behind once terminated', async () => {
    await ssh(keys.privateKey, second, 'nohup sleep 600 >/dev/null 2>&1 &');
    await host.terminate('i-first');
    await host.terminate('i-second');
    expect(processesUsing(stateDir)).toEqual([]);
    expect(await mountsUnder(stateDir)).toEqual([]);
    expect(await networkLeftovers([first.ip, second.ip])).toEqual([]);
    expect(existsSync(path.join(stateDir, 'instances/i-first'))).toBe(false);
    expect(existsSync(path.join(stateDir, 'instances/i-second'))).toBe(false);
    // The image kept only what its instance changed; the base's files stay in the base.
    expect(existsSync(path.join(stateDir, 'images/ami-baked/layer/usr/bin/python3'))).toBe(false);
    expect(existsSync(path.join(stateDir, 'images/ami-baked/layer/etc/greeter.conf'))).toBe(true);
  });
});

describe('the boot host after a crash or in an awkward place', () => {
  it('powers off the container a killed bake left running and boots the instance again from a new process', async () => {
    const dir = scratchUnderRepo('crash');
    try {
      const pair = await makeKeyPair(dir);
      const crashed = createBootHost({ stateDir: dir, rootfsCache: cache });
      await crashed.launch({ instanceId: 'i-orphan', imageId: BASE_IMAGE, authorizedKey: pair.publicKey });
      const orphan = Number(readFileSync(path.join(dir, 'instances/i-orphan/nspawn.pid'), 'utf8'));
      // No close(): the next bake finds the container and the pid file as a killed one left them.
      const next = createBootHost({ stateDir: dir, rootfsCache: cache });
      const after = await next.start('i-orphan', pair.publicKey);
      expect((await ssh(pair.privateKey, after, 'cat /etc/debian_version')).stdout).toMatch(/^12\./);
      expect(processesUsing(dir).filter((p) => p.startsWith(`${orphan}:`))).toEqual([]);
      await next.terminate('i-orphan');
      await crashed.close();
      expect(processesUsing(dir)).toEqual([]);
      expect(await networkLeftovers([after.ip])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('boots an instance whose state directory has spaces, quotes and % in its path', async () => {
    const parent = scratchUnderRepo('hostile');
    const dir = path.join(parent, `it's a "state" dir 100%`);
    try {
      const pair = await makeKeyPair(parent);
      const odd = createBootHost({ stateDir: dir, rootfsCache: cache });
      const endpoint = await odd.launch({ instanceId: 'i-odd', imageId: BASE_IMAGE, authorizedKey: pair.publicKey });
      expect((await ssh(pair.privateKey, endpoint, 'cat /etc/debian_version')).stdout).toMatch(/^12\./);
      await odd.close();
      expect(processesUsing(dir)).toEqual([]);
      expect(await networkLeftovers([endpoint.ip])).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
