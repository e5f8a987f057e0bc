/**
 * A local VM's writable disk round trip (vm-disks.ts): the instance's upper directory goes into
 * an ext4 image and comes back as overlayfs wrote it — owners, modes, whiteouts (0/0 character
 * devices), opaque folders (trusted.overlay.opaque) — and a link the guest left is copied as a
 * link, never followed on the host. Real mkfs.ext4, e2fsck and a loop mount (root).
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chownSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { makeUpperDisk, readUpperDisk } from '../../src/local-cloud/vm-disks.js';

const dir = mkdtempSync(path.join(tmpdir(), 'bake-vm-disks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a local VM’s upper disk', () => {
  it('carries the upper directory there and back as overlayfs wrote it, links as links', async () => {
    const upper = path.join(dir, 'upper');
    mkdirSync(path.join(upper, 'etc/opaque'), { recursive: true });
    writeFileSync(path.join(upper, 'etc/hostname'), 'vm\n');
    mkdirSync(path.join(upper, 'home/admin'), { recursive: true });
    writeFileSync(path.join(upper, 'home/admin/notes'), 'mine\n', { mode: 0o600 });
    chownSync(path.join(upper, 'home/admin/notes'), 1000, 1000);
    await execa('mknod', [path.join(upper, 'etc/deleted'), 'c', '0', '0']);
    await execa('python3', [
      '-c',
      'import os, sys; os.setxattr(sys.argv[1], "trusted.overlay.opaque", b"y")',
      path.join(upper, 'etc/opaque'),
    ]);
    // A link to a host file: must come back as the same link, the host file untouched and uncopied.
    const hostSecret = path.join(dir, 'host-secret');
    writeFileSync(hostSecret, 'host only\n');
    symlinkSync(hostSecret, path.join(upper, 'etc/link'));

    const disk = path.join(dir, 'upper.ext4');
    await makeUpperDisk(disk, upper, path.join(dir, 'staging'));
    expect(existsSync(disk)).toBe(true);
    // The upper directory is back in place while the VM would run.
    expect(readFileSync(path.join(upper, 'etc/hostname'), 'utf8')).toBe('vm\n');
    rmSync(path.join(upper, 'etc/hostname'));

    await readUpperDisk(disk, upper, path.join(dir, 'mnt'));
    expect(existsSync(disk)).toBe(false);
    expect(readFileSync(path.join(upper, 'etc/hostname'), 'utf8')).toBe('vm\n');
    const notes = lstatSync(path.join(upper, 'home/admin/notes'));
    expect([notes.uid, notes.gid, notes.mode & 0o777]).toEqual([1000, 1000, 0o600]);
    const whiteout = lstatSync(path.join(upper, 'etc/deleted'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev).toBe(0);
    const opaque = await execa('python3', [
      '-c',
      'import os, sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())',
      path.join(upper, 'etc/opaque'),
    ]);
    expect(opaque.stdout).toBe('y');
    expect(lstatSync(path.join(upper, 'etc/link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(upper, 'etc/link'))).toBe(hostSecret);
    expect(readFileSync(hostSecret, 'utf8')).toBe('host only\n');
  });
});
