import { readdirSync, rmSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { mountInstanceRoot, uidBaseOfSlot, type InstanceRootPaths } from '../../src/local-cloud/instance-root.js';
import { renderAptProxyConf, renderMetaData, writeInstanceSeed } from '../../src/local-cloud/instance-seed.js';
import { unmountUnder } from '../../src/local-cloud/rootfs.js';
import { HOSTILE } from '../packer/hostile-values.js';
import { scratchUnderRepo } from './instances.js';

/** A range no booted instance uses (the last slot's): nothing here runs, only files are written. */
const UID_BASE = uidBaseOfSlot(32767);
const seed = {
  instanceId: 'i-1',
  ip: '198.18.0.2',
  authorizedKey: 'ssh-ed25519 AAAA bake',
  userData: Buffer.from([0x1f, 0x8b, 0, 1]),
  aptProxy: '198.18.0.1:3142',
};

/** An instance's directory over one lower layer, as the boot host lays it out; `done` unmounts and removes it. */
async function instanceRoot(name: string) {
  const scratch = scratchUnderRepo(`seed-${name}`);
  const dir = path.join(scratch, 'instance');
  const lower = path.join(scratch, 'lower');
  await mkdir(lower, { recursive: true, mode: 0o755 });
  const paths: InstanceRootPaths = {
    dir,
    rootfs: path.join(dir, 'rootfs'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    mounts: path.join(dir, 'mounts'),
  };
  const done = async () => {
    await unmountUnder(paths.rootfs);
    await unmountUnder(paths.mounts);
    rmSync(scratch, { recursive: true, force: true });
  };
  return { scratch, lower, paths, done };
}

describe('the NoCloud seed of a local instance', () => {
  it('names the instance, its EC2-style hostname and its key in meta-data', () => {
    expect(
      parse(renderMetaData({ instanceId: 'i-0abc', ip: '198.18.0.2', authorizedKey: 'ssh-ed25519 AAAA bake\n' })),
    ).toEqual({
      'instance-id': 'i-0abc',
      'local-hostname': 'ip-198-18-0-2',
      'public-keys': ['ssh-ed25519 AAAA bake'],
    });
  });

  it('keeps hostile key comments one YAML string', () => {
    for (const value of HOSTILE) {
      const key = `ssh-ed25519 AAAA ${value}`.replace(/[\r\n]/g, ' ');
      expect(parse(renderMetaData({ instanceId: 'i-1', ip: '198.18.0.2', authorizedKey: key }))['public-keys']).toEqual(
        [key.trim()],
      );
    }
  });

  it('writes user-data as given, appends the key to root’s authorized_keys once, and points apt at the host', async () => {
    const { lower, paths, done } = await instanceRoot('seed');
    try {
      await mkdir(path.join(lower, 'root/.ssh'), { recursive: true });
      await mkdir(path.join(lower, 'etc/apt/apt.conf.d'), { recursive: true });
      await writeFile(path.join(lower, 'root/.ssh/authorized_keys'), 'ssh-ed25519 BAKED image-key');
      await mountInstanceRoot(paths, [lower], UID_BASE);
      await writeInstanceSeed(paths.rootfs, UID_BASE, seed);
      await writeInstanceSeed(paths.rootfs, UID_BASE, seed);
      // Read from the instance's own changes: what the image holds, in the image's own uids.
      expect(await readFile(path.join(paths.upper, 'var/lib/cloud/seed/nocloud/user-data'))).toEqual(seed.userData);
      expect(await readFile(path.join(paths.upper, 'root/.ssh/authorized_keys'), 'utf8')).toBe(
        'ssh-ed25519 BAKED image-key\nssh-ed25519 AAAA bake\n',
      );
      expect((await lstat(path.join(paths.upper, 'root/.ssh/authorized_keys'))).uid).toBe(0);
      expect(await readFile(path.join(paths.upper, 'etc/apt/apt.conf.d/00bake-local-cloud-proxy'), 'utf8')).toContain(
        'Acquire::http::Proxy "http://198.18.0.1:3142";',
      );
    } finally {
      await done();
    }
  });

  it('never writes, chmods or appends to a host path through links the image holds where seed files go', async () => {
    const { scratch, lower, paths, done } = await instanceRoot('hostile');
    // Host files and folders the image's links point at, as a recipe's verify: command could leave them.
    const host = path.join(scratch, 'host');
    await mkdir(path.join(host, 'cron.d'), { recursive: true, mode: 0o755 });
    await mkdir(path.join(host, 'ssh'), { recursive: true, mode: 0o755 });
    await chmod(path.join(host, 'ssh'), 0o755);
    await writeFile(path.join(host, 'ssh/authorized_keys'), 'ssh-ed25519 HOST own-key\n', { mode: 0o644 });
    await writeFile(path.join(host, 'apt-conf'), 'host file\n', { mode: 0o644 });
    try {
      await mkdir(path.join(lower, 'var/lib/cloud/seed'), { recursive: true });
      await mkdir(path.join(lower, 'etc/apt/apt.conf.d'), { recursive: true });
      await mkdir(path.join(lower, 'root'), { recursive: true });
      await symlink(path.join(host, 'cron.d'), path.join(lower, 'var/lib/cloud/seed/nocloud'));
      await symlink(path.join(host, 'apt-conf'), path.join(lower, 'etc/apt/apt.conf.d/00bake-local-cloud-proxy'));
      await symlink(path.join(host, 'ssh'), path.join(lower, 'root/.ssh'));
      await mountInstanceRoot(paths, [lower], UID_BASE);
      await writeInstanceSeed(paths.rootfs, UID_BASE, seed);

      expect(readdirSync(path.join(host, 'cron.d'))).toEqual([]);
      expect(await readFile(path.join(host, 'apt-conf'), 'utf8')).toBe('host file\n');
      expect(await readFile(path.join(host, 'ssh/authorized_keys'), 'utf8')).toBe('ssh-ed25519 HOST own-key\n');
      expect((await stat(path.join(host, 'ssh'))).mode & 0o777).toBe(0o755);
      expect((await stat(path.join(host, 'ssh/authorized_keys'))).mode & 0o777).toBe(0o644);
      // Links that lead out of the image lead nowhere: the seed is where it belongs, in the image.
      expect(await readFile(path.join(paths.upper, 'var/lib/cloud/seed/nocloud/meta-data'), 'utf8')).toContain('i-1');
      expect(await readFile(path.join(paths.upper, 'root/.ssh/authorized_keys'), 'utf8')).toBe(
        'ssh-ed25519 AAAA bake\n',
      );
      expect((await lstat(path.join(paths.upper, 'etc/apt/apt.conf.d/00bake-local-cloud-proxy'))).isFile()).toBe(true);
    } finally {
      await done();
    }
  });

  it('refuses a proxy that is not an address and port', () => {
    expect(() => renderAptProxyConf('198.18.0.1:3142"; evil "')).toThrow();
  });
});
