/**
 * Root filesystems on the host: the debootstrap base every local image starts from, copies of
 * it for instances and images, and taking them down again without leaving mounts or processes.
 */
import { copyFile, chmod, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';
import { withPidLock } from './rootfs-lock.js';
import { DEBIAN_RELEASE, hostAptSources, mainMirror, renderSourcesList } from './rootfs-mirror.js';

/**
 * What an image needs on top of minbase: python3 for Ansible (python3-apt for its apt module),
 * sudo for `become`, certificates for https sources, iproute2 for network facts, systemd so
 * roles can enable units (nothing runs them here).
 */
export const BASE_PACKAGES = ['python3', 'python3-apt', 'sudo', 'ca-certificates', 'openssh-sftp-server', 'iproute2', 'systemd'];

export interface BaseRootfsOptions {
  /** Directory holding `base/` (the finished filesystem) and its lock. */
  cacheDir: string;
  log?: (line: string) => void;
  /** Debian mirror; default: the one this machine's apt uses. */
  mirror?: string;
}

/** Where the base is kept: $BAKE_ROOTFS_CACHE, so tests and bakeries on one machine share one. */
export function rootfsCacheDir(stateDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.BAKE_ROOTFS_CACHE ? path.resolve(env.BAKE_ROOTFS_CACHE) : path.join(stateDir, 'rootfs');
}

/**
 * The debootstrap base, built on first use. It is made under `base.tmp` and renamed into place
 * once complete, so `base/` is never half made; concurrent makers wait on a lock and the later
 * ones find it done.
 */
export async function ensureBaseRootfs(options: BaseRootfsOptions): Promise<string> {
  const base = path.join(options.cacheDir, 'base');
  if (isComplete(base)) return base;
  await mkdir(options.cacheDir, { recursive: true });
  return withPidLock(
    path.join(options.cacheDir, 'base.lock'),
    async () => {
      if (isComplete(base)) return base;
      const temp = path.join(options.cacheDir, 'base.tmp');
      await removeRootfs(temp);
      const sources = hostAptSources();
      const mirror = options.mirror ?? process.env.BAKE_DEBIAN_MIRROR ?? mainMirror(sources);
      await requireRoot('debootstrap');
      options.log?.(`debootstrap ${DEBIAN_RELEASE} from ${mirror} into ${temp} (first use only; about a minute)`);
      const started = Date.now();
      const result = await execa(
        'debootstrap',
        ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, DEBIAN_RELEASE, temp, mirror],
        { reject: false, all: true, env: { PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}` } },
      );
      if (result.failed) {
        const tail = String(result.all ?? result.message).trim().split('\n').slice(-5).join(' | ');
        await removeRootfs(temp);
        throw new CloudError(`debootstrap ${DEBIAN_RELEASE} from ${mirror} failed: ${tail}`);
      }
      await prepareBase(temp, renderSourcesList(sources));
      if (!isComplete(temp)) throw new CloudError(`${temp}: debootstrap finished but the root filesystem has no python3`);
      await rename(temp, base);
      options.log?.(`base root filesystem ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${base}`);
      return base;
    },
    { onWait: (holder) => options.log?.(`waiting for process ${holder}, which is making ${base}`) },
  );
}

function isComplete(rootfs: string): boolean {
  return existsSync(path.join(rootfs, 'etc/debian_version')) && existsSync(path.join(rootfs, 'usr/bin/python3'));
}

/** What makes a bare debootstrap usable as an image: apt works inside, services never start. */
async function prepareBase(rootfs: string, sourcesList: string): Promise<void> {
  // invoke-rc.d asks policy-rc.d; 101 = "action not allowed", so postinst scripts leave services stopped.
  await writeFile(path.join(rootfs, 'usr/sbin/policy-rc.d'), '#!/bin/sh\n# bake: no services start inside a local-cloud chroot\nexit 101\n', { mode: 0o755 });
  await rm(path.join(rootfs, 'etc/resolv.conf'), { force: true });
  await copyFile('/etc/resolv.conf', path.join(rootfs, 'etc/resolv.conf')).catch(() => writeFile(path.join(rootfs, 'etc/resolv.conf'), ''));
  await writeFile(path.join(rootfs, 'etc/apt/sources.list'), sourcesList);
  await writeFile(path.join(rootfs, 'etc/hostname'), 'local-cloud\n');
  // debootstrap's downloaded packages would be copied into every instance and image.
  await rm(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
  await chmod(rootfs, 0o755);
}

/** A full copy (`cp -a`, sharing blocks where the filesystem can), made under a temp name and renamed. */
export async function copyRootfs(from: string, to: string): Promise<void> {
  const temp = `${to}.tmp`;
  await removeRootfs(temp);
  await mkdir(path.dirname(to), { recursive: true });
  const result = await execa('cp', ['-a', '--reflink=auto', '--', from, temp], { reject: false, all: true });
  if (result.failed) {
    await removeRootfs(temp);
    throw new CloudError(`copying ${from} to ${to} failed: ${String(result.all ?? result.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
  await rename(temp, to);
}

/**
 * Removes a root filesystem for good: whatever runs inside is killed and whatever is mounted
 * under it unmounted first, and `rm` never crosses into another filesystem — a role that
 * mounted /proc or bound a host directory must not take the host's files with it.
 */
export async function removeRootfs(rootfs: string): Promise<void> {
  if (!existsSync(rootfs)) return;
  await killProcessesInside(rootfs);
  await unmountUnder(rootfs);
  const result = await execa('rm', ['-rf', '--one-file-system', '--', rootfs], { reject: false, all: true });
  if (result.failed) throw new CloudError(`removing ${rootfs} failed: ${String(result.all ?? result.message).trim()}`);
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .filter(Boolean)
    // Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
    .map((line) => line.split(' ')[4].replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point === root || point.startsWith(`${root}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountUnder(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    const result = await execa('umount', ['--', point], { reject: false, all: true });
    // Busy (a process still has a file open): detach it now, the kernel frees it when unused.
    if (result.failed) await execa('umount', ['-l', '--', point], { reject: false });
  }
  const left = await mountsUnder(dir);
  if (left.length) throw new CloudError(`could not unmount ${left.join(', ')}`);
}

/** Processes whose root directory is `rootfs` or below it: what runs inside the chroot. */
export async function processesInside(rootfs: string): Promise<number[]> {
  const real = path.resolve(rootfs);
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const root = await readlink(`/proc/${entry}/root`).catch(() => undefined);
    if (root && (root === real || root.startsWith(`${real}/`))) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILL for everything inside: an instance that stops has no clean shutdown to wait for. */
export async function killProcessesInside(rootfs: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const pids = await processesInside(rootfs);
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Fails early, with the reason, where debootstrap/chroot/sshd would fail obscurely. */
export async function requireRoot(what: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new CloudError(`the local cloud's ${what} needs root (it runs debootstrap, chroot and sshd); run bake as root or in a container`);
}

export async function isDirectory(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isDirectory(), () => false);
}
