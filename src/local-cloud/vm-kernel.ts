/**
 * What a local VM boots (`local: {machine: vm}`, docs/local-cloud.md): Debian's cloud kernel, a
 * small initramfs of bake's own, and the kernel's modules as one extra read-only layer.
 *
 * The kernel comes from Debian like every other package of the instances: `apt-get download`
 * of linux-image-cloud-amd64's current kernel package (and busybox-static for the initramfs)
 * into bake's root filesystem cache, extracted there. The host's /boot, its kernel and its
 * initramfs-tools are never touched or used: a machine without a kernel package of its own (a
 * container, a CI runner) boots VMs all the same. Made once per machine and cache, under a
 * temp name renamed into place, like the debootstrap base.
 *
 * The initramfs is a constant script: it loads the virtio and overlay modules, mounts the
 * instance's layer disks (vdb… read-only, the image's layers top first) under its upper disk
 * (vda) as one overlay, exactly the stack a container's root is, gives eth0 the instance's
 * address from the kernel command line and hands over to the image's own systemd.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudError } from '../errors/index.js';
import { removeRootfs, requireTrusted } from './rootfs.js';
import { withPidLock } from './rootfs-lock.js';
import { makeExt4Image, run } from './vm-disks.js';

/** Bumped when what is made here changes: a new name, never a half-updated old one. */
export const VM_KERNEL_NAME = 'vm-kernel-v1';

/** The kernel's metapackage: Debian's smallest kernel for virtual machines (virtio, no hardware drivers). */
const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';
const BUSYBOX_PACKAGE = 'busybox-static';

/** Loaded by the initramfs, dependencies first (the cloud kernel builds these as modules). */
export const INITRAMFS_MODULES = [
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci',
  'drivers/block/virtio_blk',
  'net/core/failover',
  'drivers/net/net_failover',
  'drivers/net/virtio_net',
  'fs/overlayfs/overlay',
  // The power button: how bake asks the VM's systemd for a clean poweroff (ACPI, through QMP).
  'drivers/acpi/button',
];

/** Layer disks the initramfs can stack (vdb … vdz); a deeper image chain is refused before boot. */
export const MAX_VM_LAYERS = 25;

/**
 * /init of the initramfs (busybox sh). Values come from the kernel command line and are checked
 * here too: `bake.layers` a number, `bake.ip` an address/prefix.
 */
export const INIT_SCRIPT = `#!/bin/busybox sh
# bake's local VM: the instance's layers as one overlay root, eth0's address, then the image's systemd.
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "bake-initramfs: $*" > /dev/console; sleep 2; poweroff -f; }
mkdir -p /proc /sys /dev /root /upper /lower
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
layers=
address=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    bake.layers=*) layers="\${arg#bake.layers=}" ;;
    bake.ip=*) address="\${arg#bake.ip=}" ;;
  esac
done
case "$layers" in ''|*[!0-9]*) fail "no bake.layers= on the kernel command line" ;; esac
case "$address" in ''|*[!0-9./]*) fail "no bake.ip= on the kernel command line" ;; esac
for module in $(cat /modules.order); do insmod "/modules/$module.ko" || fail "could not load $module"; done
letters="b c d e f g h i j k l m n o p q r s t u v w x y z"
wait_for() { n=0; while [ ! -b "$1" ]; do n=$((n + 1)); [ "$n" -gt 100 ] && fail "no disk $1"; sleep 0.1; done; }
wait_for /dev/vda
mount -t ext4 -o nosuid,nodev /dev/vda /upper || fail "could not mount the upper disk"
lowerdir=
i=0
for letter in $letters; do
  [ "$i" -lt "$layers" ] || break
  wait_for "/dev/vd$letter"
  mkdir -p "/lower/$i"
  mount -t ext4 -o ro "/dev/vd$letter" "/lower/$i" || fail "could not mount layer $i"
  lowerdir="\${lowerdir:+$lowerdir:}/lower/$i"
  i=$((i + 1))
done
mount -t overlay overlay -o "lowerdir=$lowerdir,upperdir=/upper/upper,workdir=/upper/work,redirect_dir=off,metacopy=off,index=off" /root || fail "could not mount the overlay"
ip link set lo up
ip addr add "$address" dev eth0 || fail "could not address eth0"
ip link set eth0 up
umount /proc /sys
umount /dev
exec switch_root /root /sbin/init
`;

export interface VmKernel {
  version: string;
  vmlinuz: string;
  initramfs: string;
  /** ext4 image of /usr/lib/modules/<version>: the top read-only layer of every VM. */
  modulesDisk: string;
}

export interface VmKernelOptions {
  /** The root filesystem cache (rootfs.ts): the kernel is kept beside the debootstrap base. */
  cacheDir: string;
  log?: (line: string) => void;
}

/** The kernel, initramfs and modules disk, made on first use. */
export async function ensureVmKernel(options: VmKernelOptions): Promise<VmKernel> {
  const dir = path.join(options.cacheDir, VM_KERNEL_NAME);
  await mkdir(options.cacheDir, { recursive: true, mode: 0o755 });
  await requireTrusted(options.cacheDir, 'the root filesystem cache');
  const done = () => readKernel(dir);
  const ready = await done();
  if (ready) return ready;
  return withPidLock(
    path.join(options.cacheDir, `${VM_KERNEL_NAME}.lock`),
    async () => {
      const again = await done();
      if (again) return again;
      const temp = path.join(options.cacheDir, `${VM_KERNEL_NAME}.tmp`);
      await removeRootfs(temp);
      await mkdir(temp, { recursive: true, mode: 0o700 });
      const started = Date.now();
      options.log?.(
        `fetching the local VMs' kernel (${KERNEL_METAPACKAGE}) into ${dir} (once per machine and cache; about 30 s)`,
      );
      try {
        await makeKernel(temp);
      } catch (error) {
        await removeRootfs(temp);
        throw error;
      }
      await rename(temp, dir);
      options.log?.(`VM kernel ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return (await done())!;
    },
    { onWait: (holder) => options.log?.(`waiting for process ${holder}, which is fetching the VM kernel`) },
  );
}

async function readKernel(dir: string): Promise<VmKernel | undefined> {
  const version = (await readFile(path.join(dir, 'version'), 'utf8').catch(() => '')).trim();
  if (!version) return undefined;
  await requireTrusted(dir, 'the VM kernel');
  const kernel = {
    version,
    vmlinuz: path.join(dir, 'vmlinuz'),
    initramfs: path.join(dir, 'initramfs.cpio'),
    modulesDisk: path.join(dir, 'modules.ext4'),
  };
  return [kernel.vmlinuz, kernel.initramfs, kernel.modulesDisk].every((file) => existsSync(file)) ? kernel : undefined;
}

const MAKING = 'making the VM kernel';

/** The versioned kernel package the metapackage depends on now (linux-image-6.1.0-NN-cloud-amd64). */
export function kernelPackageOf(dependsOutput: string): string | undefined {
  return /Depends:\s*(linux-image-[0-9][A-Za-z0-9.+-]*-cloud-amd64)\b/.exec(dependsOutput)?.[1];
}

async function makeKernel(temp: string): Promise<void> {
  const kernelPackage = kernelPackageOf(await run('apt-cache', ['depends', KERNEL_METAPACKAGE], MAKING));
  if (!kernelPackage)
    throw new CloudError(
      `making the VM kernel: apt knows no ${KERNEL_METAPACKAGE} (apt-get update, or scripts/setup.sh)`,
    );
  const debs = path.join(temp, 'debs');
  await mkdir(debs);
  // Run as root in a folder only root can enter: apt's download sandbox user could not write there.
  await run('apt-get', ['download', '-o', 'APT::Sandbox::User=root', kernelPackage, BUSYBOX_PACKAGE], MAKING, debs);
  const files = await readdir(debs);
  const extracted = path.join(temp, 'extracted');
  for (const deb of files) await run('dpkg-deb', ['-x', path.join(debs, deb), extracted], MAKING);
  const version = (await readdir(path.join(extracted, 'lib/modules')))[0];
  if (!version || !/^[0-9][A-Za-z0-9.+-]*$/.test(version))
    throw new CloudError(`making the VM kernel: ${kernelPackage} holds no /lib/modules/<version>`);
  // modules.dep and its indexes: what the VM's udev needs to load a module by name or alias.
  await run('depmod', ['-b', extracted, version], MAKING);
  await copyFile(path.join(extracted, `boot/vmlinuz-${version}`), path.join(temp, 'vmlinuz'));
  const moduleDir = path.join(extracted, 'lib/modules', version);
  const busybox = await readFile(path.join(extracted, 'bin/busybox'));
  const entries: CpioEntry[] = [
    { name: 'bin', mode: 0o40755 },
    { name: 'modules', mode: 0o40755 },
    { name: 'bin/busybox', mode: 0o100755, data: busybox },
    { name: 'init', mode: 0o100755, data: Buffer.from(INIT_SCRIPT) },
    {
      name: 'modules.order',
      mode: 0o100644,
      data: Buffer.from(`${INITRAMFS_MODULES.map((m) => path.basename(m)).join('\n')}\n`),
    },
  ];
  for (const module of INITRAMFS_MODULES)
    entries.push({
      name: `modules/${path.basename(module)}.ko`,
      mode: 0o100644,
      data: await readFile(path.join(moduleDir, 'kernel', `${module}.ko`)),
    });
  await writeFile(path.join(temp, 'initramfs.cpio'), cpioNewc(entries));
  // Debian's /lib is a link to usr/lib: the layer holds usr/lib/modules, never a /lib folder over the link.
  const layer = path.join(temp, 'modules-layer');
  await mkdir(path.join(layer, 'usr/lib/modules'), { recursive: true, mode: 0o755 });
  await rename(moduleDir, path.join(layer, 'usr/lib/modules', version));
  await makeExt4Image(path.join(temp, 'modules.ext4'), layer);
  await removeRootfs(layer);
  await removeRootfs(extracted);
  await removeRootfs(debs);
  for (const file of ['vmlinuz', 'initramfs.cpio', 'modules.ext4']) await chmod(path.join(temp, file), 0o600);
  // Written last: its presence says the rest is complete.
  await writeFile(path.join(temp, 'version'), `${version}\n`);
}

export interface CpioEntry {
  name: string;
  /** st_mode: type and permission bits (0o40755 a folder, 0o100644 a file). */
  mode: number;
  data?: Buffer;
}

/** An initramfs archive in the kernel's "newc" cpio format (uncompressed; the kernel unpacks it). */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const hex = (value: number) => value.toString(16).padStart(8, '0');
  const pad = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);
  const add = (ino: number, name: string, mode: number, data: Buffer) => {
    const nameBytes = Buffer.from(`${name}\0`);
    const header = Buffer.from(
      '070701' + [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0].map(hex).join(''),
      'ascii',
    );
    parts.push(header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length));
  };
  entries.forEach((entry, index) => add(index + 1, entry.name, entry.mode, entry.data ?? Buffer.alloc(0)));
  add(0, 'TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}
