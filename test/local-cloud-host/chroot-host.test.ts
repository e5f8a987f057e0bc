import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChrootHost } from '../../src/local-cloud/chroot-host.js';
import { BASE_IMAGE, type InstanceEndpoint, type InstanceHost } from '../../src/local-cloud/instance-host.js';
import { ensureBaseRootfs, mountsUnder } from '../../src/local-cloud/rootfs.js';
import { chrootLinksInto, makeKeyPair, processesUsing, scratchUnderRepo, ssh, testRootfsCache } from './instances.js';

const playbook = path.join(import.meta.dirname, '../fixtures/local-cloud-host/playbook.yml');
const cache = testRootfsCache();
const measured: Record<string, string> = {};
const lines: string[] = [];
const log = (line: string) => lines.push(line);

// Under /tmp, whose sticky, world-writable mode sshd refuses in a chroot path: the host must cope.
const stateDir = mkdtempSync(path.join(tmpdir(), 'bake-chroot-host-'));
const port = 22000 + (process.pid % 1000);
let host: InstanceHost;
let keys: { privateKey: string; publicKey: string };

beforeAll(async () => {
  const started = Date.now();
  // The first run on a machine makes the debootstrap base (about a minute); later runs find it.
  await ensureBaseRootfs({ cacheDir: cache, log });
  measured['base root filesystem (cached after the first run)'] = `${Date.now() - started} ms`;
  keys = await makeKeyPair(stateDir);
  host = createChrootHost({ stateDir, sshPort: port, log, rootfsCache: cache });
}, 900_000);

afterAll(async () => {
  await host?.close();
  console.log(['chroot host, measured:', ...Object.entries(measured).map(([k, v]) => `  ${k}: ${v}`), ...lines.map((l) => `  log: ${l}`)].join('\n'));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('an instance of the local cloud', () => {
  let first: InstanceEndpoint;
  let second: InstanceEndpoint;

  it('starts from the base image and answers over SSH as Debian bookworm', async () => {
    const started = Date.now();
    first = await host.launch({ instanceId: 'i-first', imageId: BASE_IMAGE, authorizedKey: keys.publicKey });
    measured['launch from base (copy + sshd)'] = `${Date.now() - started} ms`;
    expect(first.ip).toMatch(/^127\.0\.0\.\d+$/);
    expect(first.sshPort).toBe(port);
    const result = await ssh(keys.privateKey, first, 'cat /etc/debian_version; id -un');
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^12\.\d+\nroot$/);
  });

  it('turns away a key that is not the instance’s key pair', async () => {
    const stranger = await makeKeyPair(mkdtempSync(path.join(stateDir, 'stranger-')));
    const result = await ssh(stranger.privateKey, first, 'true');
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('is provisioned by a real ansible-playbook: a file written, a package installed with apt', async () => {
    const inventory = path.join(stateDir, 'inventory.json');
    // JSON is YAML: ansible's yaml inventory plugin reads it, and JSON.stringify does the quoting.
    writeFileSync(inventory, JSON.stringify({
      all: { hosts: { 'i-first': { ansible_host: first.ip, ansible_port: first.sshPort, ansible_user: 'root', ansible_ssh_private_key_file: keys.privateKey,
        ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' } } },
    }));
    const started = Date.now();
    const run = await execa('ansible-playbook', ['-i', inventory, playbook], {
      reject: false, all: true, env: { ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'False' },
    });
    measured['ansible-playbook (facts, copy, apt update + install tree)'] = `${Date.now() - started} ms`;
    expect(run.exitCode, run.all).toBe(0);
    expect(run.stdout).toMatch(/i-first\s+: ok=3\s+changed=2\s+unreachable=0\s+failed=0/);
    const check = await ssh(keys.privateKey, first, 'cat /etc/baked-by-ansible && tree --version');
    expect(check.stdout).toMatch(/^baked on Debian 12\ntree v/);
  });

  it('is captured as an image that a new instance starts from, with the file and the package', async () => {
    await host.stop('i-first');
    const started = Date.now();
    await host.capture('i-first', 'ami-baked');
    measured['capture (copy of a stopped instance)'] = `${Date.now() - started} ms`;
    const launched = Date.now();
    second = await host.launch({ instanceId: 'i-second', imageId: 'ami-baked', authorizedKey: keys.publicKey });
    measured['launch from a captured image'] = `${Date.now() - launched} ms`;
    const check = await ssh(keys.privateKey, second, 'cat /etc/baked-by-ansible && command -v tree');
    expect(check.stdout).toBe('baked on Debian 12\n/usr/bin/tree');
  });

  it('refuses SSH while stopped and comes back on the same address with its files when started', async () => {
    expect((await ssh(keys.privateKey, first, 'true')).exitCode).toBe(255);
    const again = await host.start('i-first', keys.publicKey);
    expect(again).toEqual(first);
    expect((await ssh(keys.privateKey, again, 'cat /etc/baked-by-ansible')).stdout).toMatch(/^baked on/);
  });

  it('gives every running instance its own loopback address on the same port', () => {
    expect(second.ip).not.toBe(first.ip);
    expect(second.sshPort).toBe(first.sshPort);
  });

  it('keeps a change inside one instance out of the image and out of other instances', async () => {
    await ssh(keys.privateKey, second, 'echo mine > /etc/only-in-second');
    expect((await ssh(keys.privateKey, first, 'test -e /etc/only-in-second')).exitCode).toBe(1);
    expect(existsSync(path.join(stateDir, 'images/ami-baked/rootfs/etc/only-in-second'))).toBe(false);
  });

  it('leaves no sshd, no process, no mount and no filesystem behind once terminated', async () => {
    // A daemon a role left running inside the chroot must not outlive the instance either.
    await ssh(keys.privateKey, second, 'nohup sleep 600 >/dev/null 2>&1 &');
    await host.terminate('i-first');
    await host.terminate('i-second');
    expect(processesUsing(stateDir)).toEqual([]);
    expect(await mountsUnder(stateDir)).toEqual([]);
    expect(chrootLinksInto(stateDir)).toEqual([]);
    expect(existsSync(path.join(stateDir, 'instances/i-first'))).toBe(false);
    expect(existsSync(path.join(stateDir, 'instances/i-second'))).toBe(false);
    expect(existsSync(path.join(stateDir, 'images/ami-baked/rootfs/etc/baked-by-ansible'))).toBe(true);
  });
});

describe('the chroot host after a crash or in an awkward place', () => {
  it('stops the sshd a killed bake left behind and serves the instance again from a new process', async () => {
    const dir = scratchUnderRepo('crash');
    try {
      const pair = await makeKeyPair(dir);
      const crashed = createChrootHost({ stateDir: dir, sshPort: port + 1, rootfsCache: cache });
      const before = await crashed.launch({ instanceId: 'i-orphan', imageId: BASE_IMAGE, authorizedKey: pair.publicKey });
      const orphan = Number(readFileSync(path.join(dir, 'instances/i-orphan/sshd.pid'), 'utf8'));
      // No close(): the next bake finds the sshd and the pid file as a killed one left them.
      const next = createChrootHost({ stateDir: dir, sshPort: port + 1, rootfsCache: cache });
      const after = await next.start('i-orphan', pair.publicKey);
      expect(after).toEqual(before);
      expect((await ssh(pair.privateKey, after, 'cat /etc/debian_version')).stdout).toMatch(/^12\./);
      expect(processesUsing(dir).filter((p) => p.startsWith(`${orphan}:`))).toEqual([]);
      await next.terminate('i-orphan');
      await crashed.close();
      expect(processesUsing(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails a launch whose sshd cannot start with sshd’s own reason, and leaves no filesystem behind', async () => {
    const dir = scratchUnderRepo('broken');
    try {
      mkdirSync(path.join(dir, 'host'), { recursive: true });
      writeFileSync(path.join(dir, 'host/ssh_host_ed25519_key'), 'not a key\n', { mode: 0o600 });
      const broken = createChrootHost({ stateDir: dir, sshPort: port + 3, rootfsCache: cache });
      await expect(broken.launch({ instanceId: 'i-broken', imageId: BASE_IMAGE, authorizedKey: keys.publicKey })).rejects.toThrow(/sshd .* exited: .*hostkeys/);
      expect(existsSync(path.join(dir, 'instances/i-broken'))).toBe(false);
      await broken.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves an instance whose state directory has spaces, quotes and % in its path', async () => {
    const parent = scratchUnderRepo('hostile');
    const dir = path.join(parent, `it's a "state" dir 100%`);
    try {
      const pair = await makeKeyPair(parent);
      const odd = createChrootHost({ stateDir: dir, sshPort: port + 2, rootfsCache: cache });
      const endpoint = await odd.launch({ instanceId: 'i-odd', imageId: BASE_IMAGE, authorizedKey: pair.publicKey });
      expect((await ssh(pair.privateKey, endpoint, 'cat /etc/debian_version')).stdout).toMatch(/^12\./);
      await odd.close();
      expect(processesUsing(dir)).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
