import { chmodSync, chownSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BASE_NAME, ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { scratchUnderRepo } from './instances.js';

const scratch = scratchUnderRepo('cache-trust');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A base that looks complete (what ensureBaseRootfs checks before using one): no debootstrap needed. */
function completeBase(dir: string): void {
  mkdirSync(path.join(dir, 'etc/cloud/cloud.cfg.d'), { recursive: true });
  writeFileSync(path.join(dir, 'etc/debian_version'), '12.0\n');
  writeFileSync(path.join(dir, 'etc/cloud/cloud.cfg.d/80_bake-local-cloud.cfg'), '');
  // rc.local of the kind a planted base would run as root in a new instance.
  writeFileSync(path.join(dir, 'etc/rc.local'), '#!/bin/sh\ntouch /tmp/owned\n', { mode: 0o755 });
}

function cache(name: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}

describe('the root filesystem cache every instance boots from', () => {
  it('uses a base that root made and only root may change', async () => {
    const dir = cache('trusted');
    completeBase(path.join(dir, BASE_NAME));
    expect(await ensureBaseRootfs({ cacheDir: dir })).toBe(path.join(dir, BASE_NAME));
  });

  it('refuses a base owned by another user, writable by others, or a link, in one line', async () => {
    const owned = cache('owned');
    completeBase(path.join(owned, BASE_NAME));
    chownSync(path.join(owned, BASE_NAME), 1000, 1000);
    await expect(ensureBaseRootfs({ cacheDir: owned })).rejects.toThrow(
      /^the base root filesystem .*base-v2 is owned by uid 1000, not 0: refusing to use it/,
    );

    const writable = cache('writable');
    completeBase(path.join(writable, BASE_NAME));
    chmodSync(path.join(writable, BASE_NAME), 0o777);
    await expect(ensureBaseRootfs({ cacheDir: writable })).rejects.toThrow(/is writable by others/);

    const linked = cache('linked');
    completeBase(path.join(scratch, 'elsewhere'));
    symlinkSync(path.join(scratch, 'elsewhere'), path.join(linked, BASE_NAME));
    await expect(ensureBaseRootfs({ cacheDir: linked })).rejects.toThrow(/is a symbolic link/);
  });

  it('refuses a cache folder (BAKE_ROOTFS_CACHE) another user owns or may write to', async () => {
    const owned = cache('cache-owned');
    completeBase(path.join(owned, BASE_NAME));
    chownSync(owned, 1000, 1000);
    await expect(ensureBaseRootfs({ cacheDir: owned })).rejects.toThrow(
      /^the root filesystem cache .* is owned by uid 1000/,
    );

    const shared = cache('cache-group-writable');
    completeBase(path.join(shared, BASE_NAME));
    chmodSync(shared, 0o775);
    await expect(ensureBaseRootfs({ cacheDir: shared })).rejects.toThrow(/is writable by its group/);

    const parent = cache('open-parent');
    chmodSync(parent, 0o777);
    const inside = path.join(parent, 'cache');
    mkdirSync(inside, { mode: 0o755 });
    completeBase(path.join(inside, BASE_NAME));
    await expect(ensureBaseRootfs({ cacheDir: inside })).rejects.toThrow(/which others may write to/);
  });
});

describe('the first local build on a machine', () => {
  it('says that it is making the root filesystem, and that this happens once per machine', async () => {
    const lines: string[] = [];
    // A mirror that refuses at once: debootstrap starts, says nothing useful, and fails quickly.
    await expect(
      ensureBaseRootfs({
        cacheDir: cache('first-run'),
        mirror: 'http://127.0.0.1:9/debian',
        log: (l) => lines.push(l),
      }),
    ).rejects.toThrow(/debootstrap bookworm from http:\/\/127\.0\.0\.1:9\/debian failed/);
    expect(lines[0]).toMatch(/^making the local instances' root filesystem: debootstrap bookworm .*once per machine/);
  });
});
