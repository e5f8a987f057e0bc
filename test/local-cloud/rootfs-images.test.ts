import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageStore, readLayers, resumeCapture } from '../../src/local-cloud/rootfs-images.js';

let dir: string;
let base: string;
let store: ImageStore;
/** Layers the (stand-in) instances stand on, as the boot host reports them. */
let instanceLayers: string[];

/** A stand-in for a stopped instance's own layer: a few real files. */
function instanceUpper(name: string, content: string): string {
  const upper = path.join(dir, 'instances', name, 'upper');
  mkdirSync(path.join(upper, 'etc'), { recursive: true });
  writeFileSync(path.join(upper, 'etc/marker'), content);
  return upper;
}

const markerOf = async (imageId: string) =>
  readFileSync(path.join((await store.layersOf(imageId))[0], 'etc/marker'), 'utf8');

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bake-images-'));
  base = path.join(dir, 'base');
  mkdirSync(base);
  instanceLayers = [];
  store = new ImageStore(path.join(dir, 'images'), async () => instanceLayers);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('image filesystems on the host', () => {
  it('captures only what the instance changed, as a layer over the layers it stood on', async () => {
    await store.capture(instanceUpper('i-1', 'v1'), [base], 'ami-1');
    expect(await store.layersOf('ami-1')).toEqual([path.join(dir, 'images/ami-1/layer'), base]);
    await store.capture(instanceUpper('i-2', 'child'), await store.layersOf('ami-1'), 'ami-2');
    expect(await store.layersOf('ami-2')).toEqual([
      path.join(dir, 'images/ami-2/layer'),
      path.join(dir, 'images/ami-1/layer'),
      base,
    ]);
  });

  it('keeps a captured layer apart from the instance, which may run on and change its files', async () => {
    const upper = instanceUpper('i-1', 'v1');
    await store.capture(upper, [base], 'ami-1');
    writeFileSync(path.join(upper, 'etc/marker'), 'v2');
    expect(await markerOf('ami-1')).toBe('v1');
  });

  it('captures a stopped container by moving its changes: the instance stands on the new layer and writes to a new one of its own', async () => {
    const instance = path.join(dir, 'instances', 'i-1');
    const upper = instanceUpper('i-1', 'v1');
    chmodSync(upper, 0o711);
    writeFileSync(path.join(instance, 'layers'), `${JSON.stringify([base])}\n`);
    await store.captureByMove(instance, upper, [base], 'ami-1');
    const layer = path.join(dir, 'images/ami-1/layer');
    expect(await store.layersOf('ami-1')).toEqual([layer, base]);
    expect(await markerOf('ami-1')).toBe('v1');
    // The instance sees the same files: the image's layer under an empty upper directory, made as its old one was.
    expect(await readLayers(instance)).toEqual([layer, base]);
    expect(readdirSync(upper)).toEqual([]);
    expect(statSync(upper).mode & 0o7777).toBe(0o711);
    writeFileSync(path.join(upper, 'after-capture'), 'mine');
    expect(existsSync(path.join(layer, 'after-capture'))).toBe(false);
  });

  it('finishes a capture by move that a crash interrupted after the instance was pointed at the new layer', async () => {
    const instance = path.join(dir, 'instances', 'i-1');
    const upper = instanceUpper('i-1', 'v1');
    const layer = path.join(dir, 'images/ami-1/layer');
    // As the crash left it: the image's folder and the instance's new layer list, the changes not moved yet.
    mkdirSync(path.dirname(layer), { recursive: true });
    writeFileSync(path.join(dir, 'images/ami-1/layers'), `${JSON.stringify([layer, base])}\n`);
    writeFileSync(path.join(instance, 'layers'), `${JSON.stringify([layer, base])}\n`);
    await resumeCapture(instance, path.join(dir, 'images'));
    expect(await markerOf('ami-1')).toBe('v1');
    expect(await readLayers(instance)).toEqual([layer, base]);
    // A finished instance is left as it is.
    mkdirSync(upper);
    writeFileSync(path.join(upper, 'later'), 'x');
    await resumeCapture(instance, path.join(dir, 'images'));
    expect(readFileSync(path.join(upper, 'later'), 'utf8')).toBe('x');
  });

  it('never moves an instance’s changes to a layer outside the image folder', async () => {
    const instance = path.join(dir, 'instances', 'i-1');
    instanceUpper('i-1', 'v1');
    const elsewhere = path.join(dir, 'elsewhere/layer');
    writeFileSync(path.join(instance, 'layers'), `${JSON.stringify([elsewhere, base])}\n`);
    await resumeCapture(instance, path.join(dir, 'images'));
    expect(existsSync(elsewhere)).toBe(false);
    // Nor trips over a layer list it cannot read.
    writeFileSync(path.join(instance, 'layers'), '[not json');
    await resumeCapture(instance, path.join(dir, 'images'));
    expect(existsSync(path.join(instance, 'upper/etc/marker'))).toBe(true);
  });

  it('copies an image to another region as a link, not a second copy of the files', async () => {
    await store.capture(instanceUpper('i-1', 'v1'), [base], 'ami-1');
    await store.alias('ami-1', 'ami-eu');
    expect(lstatSync(path.join(dir, 'images/ami-eu')).isSymbolicLink()).toBe(true);
    expect(await store.layersOf('ami-eu')).toEqual(await store.layersOf('ami-1'));
  });

  it('keeps the files while any copy still refers to them, and removes them with the last one', async () => {
    await store.capture(instanceUpper('i-1', 'v1'), [base], 'ami-1');
    await store.alias('ami-1', 'ami-eu');
    await store.alias('ami-eu', 'ami-ap');
    await store.delete('ami-1');
    await expect(store.layersOf('ami-1')).rejects.toThrow(/ami-1 has no filesystem/);
    expect(await markerOf('ami-ap')).toBe('v1');
    await store.delete('ami-eu');
    expect(existsSync(path.join(dir, 'images/ami-1/layer'))).toBe(true);
    await store.delete('ami-ap');
    expect(existsSync(path.join(dir, 'images/ami-1'))).toBe(false);
  });

  it('keeps a deregistered parent while a child image or an instance stands on its layer', async () => {
    await store.capture(instanceUpper('i-1', 'parent'), [base], 'ami-parent');
    await store.capture(instanceUpper('i-2', 'child'), await store.layersOf('ami-parent'), 'ami-child');
    await store.delete('ami-parent');
    expect(existsSync(path.join(dir, 'images/ami-parent/layer/etc/marker'))).toBe(true);
    instanceLayers = await store.layersOf('ami-child');
    await store.delete('ami-child');
    expect(existsSync(path.join(dir, 'images/ami-child/layer/etc/marker'))).toBe(true);
    // The instance is terminated: both go.
    instanceLayers = [];
    await store.collect();
    expect(existsSync(path.join(dir, 'images/ami-child'))).toBe(false);
    expect(existsSync(path.join(dir, 'images/ami-parent'))).toBe(false);
  });

  it('removes an image nobody copied at once, and deleting it twice is harmless', async () => {
    await store.capture(instanceUpper('i-1', 'v1'), [base], 'ami-1');
    await store.delete('ami-1');
    await store.delete('ami-1');
    expect(existsSync(path.join(dir, 'images/ami-1'))).toBe(false);
  });

  it('refuses an image an older bake made as a whole root filesystem, saying what to do', async () => {
    mkdirSync(path.join(dir, 'images/ami-old/rootfs'), { recursive: true });
    await expect(store.layersOf('ami-old')).rejects.toThrow(
      /made by an older bake whose instances did not boot: delete \.bake\/local/,
    );
  });

  it('finishes a capture or a removal that a crash interrupted, without touching finished images', async () => {
    await store.capture(instanceUpper('i-1', 'v1'), [base], 'ami-1');
    mkdirSync(path.join(dir, 'images/.ami-2.tmp/layer'), { recursive: true });
    mkdirSync(path.join(dir, 'images/.ami-3.deleting/layer'), { recursive: true });
    await store.sweep();
    expect(existsSync(path.join(dir, 'images/.ami-2.tmp'))).toBe(false);
    expect(existsSync(path.join(dir, 'images/.ami-3.deleting'))).toBe(false);
    expect(existsSync(path.join(dir, 'images/ami-1/layer/etc/marker'))).toBe(true);
  });

  it('refuses ids that would name a path outside the image directory', async () => {
    await expect(store.layersOf('../instances')).rejects.toThrow(/not an image id/);
    await expect(store.alias('ami-1', '../../etc')).rejects.toThrow(/not an image id/);
  });
});
