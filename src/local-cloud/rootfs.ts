/**
 * Root filesystems on the host: the debootstrap base every local image starts from, copies of
 * it for instances and images, and taking them down again without leaving mounts or processes.
 */
import { chmod, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';
import { DEBIAN_ARCH, hostArchitecture, type Architecture } from './architecture.js';
import { requireEmulator } from './emulation.js';
import { withPidLock } from './rootfs-lock.js';
import { DEBIAN_RELEASE, hostAptSources, mainMirror, renderSourcesList } from './rootfs-mirror.js';

/**
 * What an image needs on top of minbase to boot like a Debian cloud image: systemd as init,
 * sshd, cloud-init (python3-cffi-backend named because debootstrap does not resolve the virtual
 * package python3-cryptography needs), dbus for hostnamectl and friends, python3 and
 * python3-apt for Ansible, sudo for `become`, certificates for https sources, iproute2 for
 * network facts and `ss`, procps for `ps`.
 */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'cloud-init',
  'python3-cffi-backend',
  'python3',
  'python3-apt',
  'sudo',
  'ca-certificates',
  'iproute2',
  'procps',
];

/**
 * The base's directory name inside the cache. Bumped whenever what the base holds changes, so
 * that code never boots a base made for another version (v1: a chroot without init or cloud-init).
 */
export const BASE_NAME = 'base-v2';

/**
 * The base's directory name for an architecture: x86_64 keeps `base-v2`, so caches made before
 * arm64 existed are reused as they are; others carry their Debian name.
 */
export function baseName(architecture: Architecture = 'x86_64'): string {
  return architecture === 'x86_64' ? BASE_NAME : `${BASE_NAME}-${DEBIAN_ARCH[architecture]}`;
}

/**
 * cloud-init settings of every local image (a recipe's own drop-ins, `90-bake-…`, sort after
 * and win): seed from NoCloud (the local cloud writes it before each boot), leave the network
 * as the host configured it, the key pair's key for `admin` (with passwordless sudo, as on
 * Debian's AMIs) and root, a locale that exists without locale-gen, and no RSA/DSA host keys,
 * whose generation takes seconds per boot.
 */
export const LOCAL_CLOUD_CFG = `# Written by bake for its local cloud (docs/local-cloud-host.md).
datasource_list: [NoCloud, None]
network: {config: disabled}
disable_root: false
system_info:
  default_user:
    name: admin
    lock_passwd: true
    gecos: Debian
    groups: [adm, sudo]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
locale: C.UTF-8
manage_etc_hosts: true
ssh_genkeytypes: [ed25519, ecdsa]
`;

export interface BaseRootfsOptions {
  /** Directory holding `base/` (the finished filesystem) and its lock. */
  cacheDir: string;
  log?: (line: string) => void;
  /** Debian mirror; default: the one this machine's apt uses. */
  mirror?: string;
  /** Default x86_64. Another one runs debootstrap's second stage under the host's binfmt emulator. */
  architecture?: Architecture;
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
  const architecture = options.architecture ?? 'x86_64';
  const name = baseName(architecture);
  const base = path.join(options.cacheDir, name);
  await mkdir(options.cacheDir, { recursive: true, mode: 0o755 });
  // Every instance boots from it as root: a base another user could have shaped is not used.
  await requireTrusted(options.cacheDir, 'the root filesystem cache');
  if (await lstat(base).catch(() => undefined)) await requireTrusted(base, 'the base root filesystem');
  if (isComplete(base)) return base;
  return withPidLock(
    path.join(options.cacheDir, `${name}.lock`),
    async () => {
      if (isComplete(base)) return base;
      const temp = path.join(options.cacheDir, `${name}.tmp`);
      await removeRootfs(temp);
      const sources = hostAptSources();
      const mirror = options.mirror ?? process.env.BAKE_DEBIAN_MIRROR ?? mainMirror(sources);
      await requireRoot('debootstrap');
      // debootstrap's second stage runs the new system's own programs.
      await requireEmulator(architecture);
      const emulated = architecture !== hostArchitecture();
      options.log?.(
        `making the local instances' ${emulated ? `${architecture} ` : ''}root filesystem: debootstrap ${DEBIAN_RELEASE} from ${mirror} into ${temp} (once per machine and cache; ${emulated ? 'about 10-20 minutes under emulation' : 'about 2-4 minutes'})`,
      );
      const started = Date.now();
      const result = await execa(
        'debootstrap',
        [
          '--variant=minbase',
          `--arch=${DEBIAN_ARCH[architecture]}`,
          `--include=${BASE_PACKAGES.join(',')}`,
          DEBIAN_RELEASE,
          temp,
          mirror,
        ],
        { reject: false, all: true, env: { PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}` } },
      );
      if (result.failed) {
        const tail = String(result.all ?? result.message)
          .trim()
          .split('\n')
          .slice(-5)
          .join(' | ');
        await removeRootfs(temp);
        throw new CloudError(`debootstrap ${DEBIAN_RELEASE} from ${mirror} failed: ${tail}`);
      }
      await prepareBase(temp, renderSourcesList(sources));
      const missing = await missingPackages(temp);
      if (missing.length) {
        await removeRootfs(temp);
        throw new CloudError(
          `debootstrap ${DEBIAN_RELEASE} from ${mirror} left packages unconfigured: ${missing.join(', ')}`,
        );
      }
      await rename(temp, base);
      options.log?.(`base root filesystem ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${base}`);
      return base;
    },
    { onWait: (holder) => options.log?.(`waiting for process ${holder}, which is making ${base}`) },
  );
}

function isComplete(rootfs: string): boolean {
  return (
    existsSync(path.join(rootfs, 'etc/debian_version')) &&
    existsSync(path.join(rootfs, 'etc/cloud/cloud.cfg.d/80_bake-local-cloud.cfg'))
  );
}

/**
 * Refuses a folder bake would trust as root that someone else could have shaped: a link, not
 * owned by bake's own user, writable by group or others, or below a folder others may write to
 * (unless sticky and root's, as /tmp). One line, naming the folder and why.
 */
export async function requireTrusted(dir: string, what: string): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const own = await lstat(dir);
  const refuse = (why: string) => {
    throw new CloudError(
      `${what} ${dir} ${why}: refusing to use it (remove it, or set BAKE_ROOTFS_CACHE to a folder of your own)`,
    );
  };
  if (own.isSymbolicLink()) refuse('is a symbolic link');
  if (!own.isDirectory()) refuse('is not a folder');
  if (own.uid !== uid) refuse(`is owned by uid ${own.uid}, not ${uid}`);
  if (own.mode & 0o022) refuse(`is writable by ${own.mode & 0o002 ? 'others' : 'its group'}`);
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    const info = await stat(parent);
    const sharedSticky = (info.mode & 0o1000) !== 0 && info.uid === 0;
    if (info.mode & 0o022 && !sharedSticky) refuse(`is inside ${parent}, which others may write to`);
    if (info.uid !== uid && info.uid !== 0) refuse(`is inside ${parent}, owned by uid ${info.uid}`);
    if (parent === path.dirname(parent)) break;
  }
}

/** Base packages dpkg does not list as `install ok installed` (debootstrap may exit 0 regardless). */
async function missingPackages(rootfs: string): Promise<string[]> {
  const status = await readFile(path.join(rootfs, 'var/lib/dpkg/status'), 'utf8').catch(() => '');
  const installed = new Set(
    status
      .split(/\n\n/)
      .filter((stanza) => /^Status: install ok installed$/m.test(stanza))
      .map((stanza) => /^Package: (\S+)$/m.exec(stanza)?.[1]),
  );
  return BASE_PACKAGES.filter((name) => !installed.has(name));
}

/** What makes a bare debootstrap a bootable local image: apt through the host, cloud-init seeded locally. */
async function prepareBase(rootfs: string, sourcesList: string): Promise<void> {
  // An instance reaches no name server (its only route is to the host); apt goes through the
  // host's proxy, which resolves the mirror's name itself.
  await rm(path.join(rootfs, 'etc/resolv.conf'), { force: true });
  await writeFile(
    path.join(rootfs, 'etc/resolv.conf'),
    '# bake local cloud: an instance has no name server; apt reaches the mirror through the host\n',
  );
  await writeFile(path.join(rootfs, 'etc/apt/sources.list'), sourcesList);
  await writeFile(path.join(rootfs, 'etc/hostname'), 'localhost\n');
  // systemd makes a machine id at first boot; one baked into the base would be every instance's.
  await writeFile(path.join(rootfs, 'etc/machine-id'), '');
  await rm(path.join(rootfs, 'var/lib/dbus/machine-id'), { force: true });
  // debootstrap's downloaded packages would be copied into every instance and image.
  await rm(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
  // Last: its presence marks the base complete.
  await writeFile(path.join(rootfs, 'etc/cloud/cloud.cfg.d/80_bake-local-cloud.cfg'), LOCAL_CLOUD_CFG);
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
    throw new CloudError(
      `copying ${from} to ${to} failed: ${String(result.all ?? result.message)
        .trim()
        .split('\n')
        .slice(-3)
        .join(' | ')}`,
    );
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
    .map((line) =>
      line.split(' ')[4].replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    )
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
  if (process.getuid?.() !== 0)
    throw new CloudError(
      `the local cloud's ${what} needs root (it runs debootstrap, systemd-nspawn and ip netns); run bake as root or in a container`,
    );
}

export async function isDirectory(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
