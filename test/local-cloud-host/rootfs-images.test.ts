import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/local-cloud/rootfs-images.js';

let dir: string;
let store: ImageStore;

/** A stand-in for a stopped instance's root filesystem: a few real files. */
function instanceRootfs(name: string, content: string): string {
  const rootfs = path.join(dir, 'instances', name, 'rootfs');
  mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  writeFileSync(path.join(rootfs, 'etc/marker'), content);
  return rootfs;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bake-images-'));
  store = new ImageStore(path.join(dir, 'images'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('image filesystems on the host', () => {
  it('captures an instance as a copy that later changes to the instance do not reach', async () => {
    const rootfs = instanceRootfs('i-1', 'v1');
    await store.capture(rootfs, 'ami-1');
    writeFileSync(path.join(rootfs, 'etc/marker'), 'v2');
    expect(readFileSync(path.join(await store.rootfsOf('ami-1'), 'etc/marker'), 'utf8')).toBe('v1');
  });

  it('copies an image to another region as a link, not a second copy of the files', async () => {
    await store.capture(instanceRootfs('i-1', 'v1'), 'ami-1');
    await store.alias('ami-1', 'ami-eu');
    expect(lstatSync(path.join(dir, 'images/ami-eu')).isSymbolicLink()).toBe(true);
    expect(await store.rootfsOf('ami-eu')).toBe(await store.rootfsOf('ami-1'));
  });

  it('keeps the files while any copy still refers to them, and removes them with the last one', async () => {
    await store.capture(instanceRootfs('i-1', 'v1'), 'ami-1');
    await store.alias('ami-1', 'ami-eu');
    await store.alias('ami-eu', 'ami-ap');
    await store.delete('ami-1');
    await expect(store.rootfsOf('ami-1')).rejects.toThrow(/ami-1 has no filesystem/);
    expect(readFileSync(path.join(await store.rootfsOf('ami-ap'), 'etc/marker'), 'utf8')).toBe('v1');
    await store.delete('ami-eu');
    expect(existsSync(path.join(dir, 'images/ami-1/rootfs'))).toBe(true);
    await store.delete('ami-ap');
    expect(existsSync(path.join(dir, 'images/ami-1'))).toBe(false);
  });

  it('removes an image nobody copied at once, and deleting it twice is harmless', async () => {
    await store.capture(instanceRootfs('i-1', 'v1'), 'ami-1');
    await store.delete('ami-1');
    await store.delete('ami-1');
    expect(existsSync(path.join(dir, 'images/ami-1'))).toBe(false);
  });

  it('finishes a capture or a removal that a crash interrupted, without touching finished images', async () => {
    await store.capture(instanceRootfs('i-1', 'v1'), 'ami-1');
    mkdirSync(path.join(dir, 'images/.ami-2.tmp/rootfs'), { recursive: true });
    mkdirSync(path.join(dir, 'images/.ami-3.deleting/rootfs'), { recursive: true });
    await store.sweep();
    expect(existsSync(path.join(dir, 'images/.ami-2.tmp'))).toBe(false);
    expect(existsSync(path.join(dir, 'images/.ami-3.deleting'))).toBe(false);
    expect(existsSync(path.join(dir, 'images/ami-1/rootfs/etc/marker'))).toBe(true);
  });

  it('refuses ids that would name a path outside the image directory', async () => {
    await expect(store.rootfsOf('../instances')).rejects.toThrow(/not an image id/);
    await expect(store.alias('ami-1', '../../etc')).rejects.toThrow(/not an image id/);
  });
});
