import { mkdtemp, readFile, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderAptProxyConf, renderMetaData, writeInstanceSeed } from '../../src/local-cloud/instance-seed.js';
import { HOSTILE } from '../packer/hostile-values.js';

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
    const rootfs = await mkdtemp(path.join(tmpdir(), 'bake-seed-'));
    await mkdir(path.join(rootfs, 'root/.ssh'), { recursive: true });
    await mkdir(path.join(rootfs, 'etc/apt/apt.conf.d'), { recursive: true });
    await writeFile(path.join(rootfs, 'root/.ssh/authorized_keys'), 'ssh-ed25519 BAKED image-key');
    const seed = {
      instanceId: 'i-1',
      ip: '198.18.0.2',
      authorizedKey: 'ssh-ed25519 AAAA bake',
      userData: Buffer.from([0x1f, 0x8b, 0, 1]),
      aptProxy: '198.18.0.1:3142',
    };
    await writeInstanceSeed(rootfs, seed);
    await writeInstanceSeed(rootfs, seed);
    expect(await readFile(path.join(rootfs, 'var/lib/cloud/seed/nocloud/user-data'))).toEqual(seed.userData);
    expect(await readFile(path.join(rootfs, 'root/.ssh/authorized_keys'), 'utf8')).toBe(
      'ssh-ed25519 BAKED image-key\nssh-ed25519 AAAA bake\n',
    );
    expect(await readFile(path.join(rootfs, 'etc/apt/apt.conf.d/00bake-local-cloud-proxy'), 'utf8')).toContain(
      'Acquire::http::Proxy "http://198.18.0.1:3142";',
    );
  });

  it('refuses a proxy that is not an address and port', () => {
    expect(() => renderAptProxyConf('198.18.0.1:3142"; evil "')).toThrow();
  });
});
