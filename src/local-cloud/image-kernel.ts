/**
 * A local VM boots the image's own kernel when the image has one: a role that installed
 * linux-image-* (and rebooted) gets that kernel, as the EC2 instance would. Found in the
 * instance's root filesystem (its layers and upper directory, mounted while the VM is down):
 * `/boot/vmlinuz-<version>` with its modules in `/lib/modules/<version>` (Debian's /lib is
 * usr/lib); of several, the one Debian's `/vmlinuz` link names, else the newest.
 *
 * Not the image's initrd: Debian's expects a real root disk, which a VM's stacked layer disks
 * are not. bake boots it with its own initramfs (vm-kernel.ts): the same /init and busybox,
 * with the virtio and overlay modules of the image's kernel in place of bake's. Everything is
 * read through resolveInRoot: the image's links lead inside the image, never into the host.
 */
import path from 'node:path';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';
import { readFileInRoot, resolveInRoot } from '../files/resolve-in-root.js';
import { cpioNewc, INITRAMFS_MODULES, type CpioEntry } from './vm-kernel.js';

/** A kernel release as Debian names them (6.1.0-50-cloud-amd64): safe in a path and on a command line. */
const RELEASE = /^[0-9][A-Za-z0-9.+_~-]*$/;
const MAX_KERNEL_BYTES = 128 * 1024 ** 2;
const MAX_MODULE_BYTES = 32 * 1024 ** 2;

export interface ImageKernel {
  /** Its release, `uname -r` in the VM. */
  version: string;
  vmlinuz: Buffer;
  /** The modules bake's /init loads, in INITRAMFS_MODULES' order; built-in ones are left out. */
  modules: { name: string; data: Buffer }[];
}

/** Kernel releases compared as Debian orders them for /vmlinuz: numbers as numbers, the rest as text. */
export function compareKernelReleases(a: string, b: string): number {
  const parts = (release: string) => release.match(/\d+|\D+/g) ?? [];
  const left = parts(a);
  const right = parts(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const numeric = /^\d/.test(x) && /^\d/.test(y);
    const order = numeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return Math.sign(order);
  }
  return 0;
}

/**
 * Which of `releases` boots (pure): the one `/vmlinuz` (a link's text, as read) names when it
 * is one of them, else the newest.
 */
export function chooseKernelRelease(releases: string[], vmlinuzLink: string | undefined): string | undefined {
  const named = /(?:^|\/)vmlinuz-([^/]+)$/.exec(vmlinuzLink ?? '')?.[1];
  if (named && releases.includes(named)) return named;
  return [...releases].sort(compareKernelReleases).at(-1);
}

/** The releases under /boot that have their modules too (a kernel without them could not mount its disks). */
async function installedReleases(root: string): Promise<string[]> {
  const boot = await resolveInRoot(root, '/boot');
  if (!boot) return [];
  const names = await readdir(boot).catch(() => [] as string[]);
  const releases: string[] = [];
  for (const name of names) {
    const release = /^vmlinuz-(.+)$/.exec(name)?.[1];
    if (!release || !RELEASE.test(release)) continue;
    if (await resolveInRoot(root, `/lib/modules/${release}/kernel`)) releases.push(release);
  }
  return releases;
}

/** The text of link `name` in folder `dir` of the image (the folder resolved inside it); never followed. */
async function linkText(root: string, dir: string, name: string): Promise<string | undefined> {
  const folder = await resolveInRoot(root, dir);
  if (!folder) return undefined;
  const file = path.join(folder, name);
  const stats = await lstat(file).catch(() => undefined);
  return stats?.isSymbolicLink() ? readlink(file) : undefined;
}

/** The image's kernel, or undefined when it has none (bake's own kernel boots then). */
export async function findImageKernel(root: string): Promise<ImageKernel | undefined> {
  const releases = await installedReleases(root);
  const version = chooseKernelRelease(
    releases,
    (await linkText(root, '/', 'vmlinuz')) ?? (await linkText(root, '/boot', 'vmlinuz')),
  );
  if (!version) return undefined;
  const vmlinuz = await readFileInRoot(root, `/boot/vmlinuz-${version}`, MAX_KERNEL_BYTES);
  if (!vmlinuz) return undefined;
  const moduleDir = `/lib/modules/${version}`;
  const builtin = (await readFileInRoot(root, `${moduleDir}/modules.builtin`, MAX_MODULE_BYTES))?.toString('utf8');
  const modules: ImageKernel['modules'] = [];
  for (const module of INITRAMFS_MODULES) {
    const data = await readModule(root, `${moduleDir}/kernel/${module}`);
    if (data) modules.push({ name: path.basename(module), data });
    else if (!builtin?.split('\n').includes(`kernel/${module}.ko`))
      throw new CloudError(
        `the image's kernel ${version} has no ${path.basename(module)} module (built in or in ${moduleDir}): a local VM needs it to reach its disks`,
      );
  }
  return { version, vmlinuz, modules };
}

/** A module as `.ko`, or compressed as newer Debian kernels ship them (busybox's insmod takes them plain). */
async function readModule(root: string, base: string): Promise<Buffer | undefined> {
  const plain = await readFileInRoot(root, `${base}.ko`, MAX_MODULE_BYTES);
  if (plain) return plain;
  for (const [suffix, tool] of [
    ['.ko.xz', 'xz'],
    ['.ko.zst', 'zstd'],
  ] as const) {
    const packed = await readFileInRoot(root, `${base}${suffix}`, MAX_MODULE_BYTES);
    if (!packed) continue;
    const result = await execa(tool, ['-dc'], {
      input: packed,
      encoding: 'buffer',
      reject: false,
      env: { PATH: '/usr/bin:/bin' },
      extendEnv: false,
      maxBuffer: MAX_MODULE_BYTES,
    });
    if (result.failed) throw new CloudError(`could not unpack the image's module ${base}${suffix} with ${tool}`);
    return Buffer.from(result.stdout);
  }
  return undefined;
}

/**
 * The initramfs for the image's kernel: bake's own archive with a second one appended (the
 * kernel unpacks both, later files replacing earlier ones) holding this kernel's modules and
 * their order. /init, busybox and everything else stay bake's.
 */
export function initramfsFor(bakeInitramfs: Buffer, kernel: ImageKernel): Buffer {
  const entries: CpioEntry[] = [
    { name: 'modules', mode: 0o40755 },
    ...kernel.modules.map((module) => ({ name: `modules/${module.name}.ko`, mode: 0o100644, data: module.data })),
    {
      name: 'modules.order',
      mode: 0o100644,
      data: Buffer.from(kernel.modules.map((module) => `${module.name}\n`).join('')),
    },
  ];
  return Buffer.concat([bakeInitramfs, cpioNewc(entries)]);
}
