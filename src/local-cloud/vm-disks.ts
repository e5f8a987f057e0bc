/**
 * A local VM's disks, made from the same directories a container's overlay stacks
 * (instance-root.ts): each read-only layer becomes an ext4 image (mkfs.ext4 -d copies owners,
 * modes, device nodes and extended attributes, so overlayfs's whiteouts and opaque folders
 * survive), and the instance's own upper directory becomes a writable disk holding `upper/` and
 * overlayfs's `work/`. The VM's initramfs stacks them as one overlay, so the VM writes exactly
 * what a container writes: after it powers off, the upper disk's `upper/` is copied back into
 * the instance's upper directory and CreateImage captures it as it captures a container's.
 *
 * The upper disk was written by the VM: its bytes are the guest's, so the host checks it with
 * e2fsck before its kernel mounts it, mounts it read-only, nosuid, nodev, noexec, and copies
 * with cp, which never follows a link the guest left.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';

const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/** The writable disk's size: sparse, so it only takes what the VM writes (EC2's default root volume is 8 GiB). */
export const UPPER_DISK_BYTES = 8 * 1024 ** 3;

/** Runs a host tool for a local VM's files; its stdout, or one line with the tool's last words. */
export async function run(command: string, args: string[], what: string, cwd?: string): Promise<string> {
  // The rest of the environment stays: apt-get download honours the host's proxy settings.
  const result = await execa(command, args, { cwd, reject: false, all: true, env: { PATH } });
  if (result.failed) {
    const tail = String(result.all ?? result.message)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' | ');
    throw new CloudError(`${what}: ${command} ${args.join(' ')} failed: ${tail}`);
  }
  return String(result.stdout);
}

async function sizeOf(dir: string): Promise<number> {
  const result = await execa('du', ['-s', '-B1', '--apparent-size', dir], { env: { PATH }, extendEnv: false });
  return Number(result.stdout.split(/\s/)[0]);
}

/**
 * A sparse ext4 image of `sourceDir`'s contents, sized to hold them (or `bytes`). Written to a
 * temp name and renamed: a crash never leaves a half-made disk under the final name.
 */
export async function makeExt4Image(file: string, sourceDir: string, bytes?: number): Promise<void> {
  const size = bytes ?? Math.max(256 * 1024 ** 2, Math.ceil(((await sizeOf(sourceDir)) * 1.5) / 1024 ** 2) * 1024 ** 2);
  const temp = `${file}.${process.pid}.tmp`;
  await rm(temp, { force: true });
  await run('truncate', ['-s', String(size), temp], `making ${file}`);
  // root_owner: the disk's root folder is the image's root's, as on a machine.
  await run(
    'mkfs.ext4',
    ['-q', '-F', '-L', 'bake-layer', '-E', 'root_owner=0:0', '-O', '^has_journal', '-d', sourceDir, temp],
    `making ${file}`,
  );
  await execa('mv', ['-f', temp, file], { env: { PATH }, extendEnv: false });
}

/**
 * The writable disk: `upper/` (the instance's upper directory as it is) and an empty `work/`.
 * `staging` is a scratch folder of the instance's; the upper directory is moved into it for
 * mkfs and back, never copied.
 */
export async function makeUpperDisk(file: string, upperDir: string, staging: string): Promise<void> {
  // A crash between the two moves below left the upper directory in staging: it goes back first.
  if (
    (await stat(path.join(staging, 'upper')).catch(() => undefined)) &&
    !(await stat(upperDir).catch(() => undefined))
  )
    await execa('mv', ['-T', path.join(staging, 'upper'), upperDir], { env: { PATH }, extendEnv: false });
  await rm(staging, { recursive: true, force: true });
  await mkdir(path.join(staging, 'work'), { recursive: true, mode: 0o700 });
  await mkdir(upperDir, { recursive: true, mode: 0o755 });
  await execa('mv', ['-T', upperDir, path.join(staging, 'upper')], { env: { PATH }, extendEnv: false });
  try {
    const result = await execa(
      'mkfs.ext4',
      [
        '-q',
        '-F',
        '-L',
        'bake-upper',
        '-E',
        'root_owner=0:0',
        '-d',
        staging,
        `${file}.tmp`,
        `${UPPER_DISK_BYTES / 1024}k`,
      ],
      { reject: false, all: true, env: { PATH }, extendEnv: false },
    );
    if (result.failed) throw new CloudError(`making ${file}: mkfs.ext4 failed: ${String(result.all).trim()}`);
    await execa('mv', ['-f', `${file}.tmp`, file], { env: { PATH }, extendEnv: false });
  } finally {
    await execa('mv', ['-T', path.join(staging, 'upper'), upperDir], { env: { PATH }, extendEnv: false });
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Copies the powered-off VM's `upper/` back into the instance's upper directory (replacing it
 * whole), then removes the disk. `mountPoint` is a scratch folder of the instance's.
 */
export async function readUpperDisk(file: string, upperDir: string, mountPoint: string): Promise<void> {
  if (!(await stat(file).catch(() => undefined))) return;
  // Repairs what a VM killed mid-write left (and refuses what cannot be repaired) before the host's kernel reads it.
  const checked = await execa('e2fsck', ['-f', '-p', file], {
    reject: false,
    all: true,
    env: { PATH },
    extendEnv: false,
  });
  if ((checked.exitCode ?? 8) >= 4)
    throw new CloudError(
      `the VM's disk ${file} is damaged beyond repair: ${String(checked.all).trim().split('\n').slice(-1)[0]}`,
    );
  await mkdir(mountPoint, { recursive: true, mode: 0o700 });
  await run('mount', ['-t', 'ext4', '-o', 'ro,nosuid,nodev,noexec,loop', file, mountPoint], `reading ${file}`);
  const fresh = `${upperDir}.vm-copy`;
  try {
    await rm(fresh, { recursive: true, force: true });
    // -a keeps owners, modes, links as links, device nodes (whiteouts); --preserve=all the xattrs (opaque folders).
    await run('cp', ['-a', '--preserve=all', '-T', path.join(mountPoint, 'upper'), fresh], `reading ${file}`);
  } finally {
    await run('umount', [mountPoint], `reading ${file}`);
  }
  const old = `${upperDir}.vm-old`;
  await rm(old, { recursive: true, force: true });
  await execa('mv', ['-T', upperDir, old], { env: { PATH }, extendEnv: false, reject: false });
  await execa('mv', ['-T', fresh, upperDir], { env: { PATH }, extendEnv: false });
  await rm(old, { recursive: true, force: true });
  await rm(file, { force: true });
}
