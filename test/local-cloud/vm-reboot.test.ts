/**
 * What makes a local VM behave like an EC2 machine across a reboot, without booting one (that is
 * test/e2e/vm-build.test.ts): why qemu ended, how many reboots are allowed, which kernel of the
 * image boots (its links read inside the image, never on the host), the initramfs made for it,
 * and the vCPUs and memory an instance type gets.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shutdownReasonOf } from '../../src/local-cloud/booted-vm.js';
import {
  chooseKernelRelease,
  compareKernelReleases,
  findImageKernel,
  initramfsFor,
} from '../../src/local-cloud/image-kernel.js';
import { INITRAMFS_MODULES, cpioNewc } from '../../src/local-cloud/vm-kernel.js';
import { RestartBudget, VM_RESTARTS } from '../../src/local-cloud/vm-restarts.js';
import { DEFAULT_VM_SIZE, instanceTypeSize, sizeVm } from '../../src/local-cloud/vm-size.js';
import { resolveInRoot } from '../../src/files/resolve-in-root.js';

const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});
const temp = async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bake-vm-reboot-'));
  temps.push(dir);
  return dir;
};

/** Writes files (path → text) under root, making folders on the way. */
async function tree(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), text);
  }
}

/** A Debian-like root with kernel `release` installed: vmlinuz, and the modules bake's /init loads. */
async function kernelFiles(root: string, release: string, except: string[] = []): Promise<void> {
  await tree(root, { [`boot/vmlinuz-${release}`]: `kernel ${release}` });
  for (const module of INITRAMFS_MODULES)
    if (!except.includes(module))
      await tree(root, { [`usr/lib/modules/${release}/kernel/${module}.ko`]: `${module} for ${release}` });
}

async function debianRoot(): Promise<string> {
  const root = await temp();
  await mkdir(path.join(root, 'usr/lib'), { recursive: true });
  // Debian's merged /usr: /lib is a link, resolved inside the image.
  await symlink('usr/lib', path.join(root, 'lib'));
  return root;
}

describe('why a VM ended', () => {
  it("reads the reason of QMP's SHUTDOWN event, and nothing else", () => {
    expect(
      shutdownReasonOf(
        '{"timestamp": {"seconds": 1}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}}',
      ),
    ).toBe('guest-reset');
    expect(shutdownReasonOf('{"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}')).toBe(
      'guest-shutdown',
    );
    expect(shutdownReasonOf('{"return": {}}')).toBeUndefined();
    expect(shutdownReasonOf('{"event": "RESET", "data": {"guest": true, "reason": "guest-reset"}}')).toBeUndefined();
    expect(shutdownReasonOf('not json')).toBeUndefined();
  });
});

describe('the reboot budget', () => {
  it('allows 5 reboots within 10 minutes, then none until the oldest is 10 minutes old', () => {
    let now = 0;
    const budget = new RestartBudget({ ...VM_RESTARTS, now: () => now });
    for (let i = 0; i < 5; i++) {
      expect(budget.take()).toBe(true);
      now += 60_000;
    }
    expect(budget.take()).toBe(false);
    expect(budget.used).toBe(5);
    now = 10 * 60_000;
    expect(budget.take()).toBe(true);
  });
});

describe("the image's kernel", () => {
  it('orders kernel releases as Debian does for /vmlinuz: numbers as numbers', () => {
    expect(compareKernelReleases('6.1.0-9-cloud-amd64', '6.1.0-10-cloud-amd64')).toBe(-1);
    expect(compareKernelReleases('6.10.0-1-amd64', '6.9.0-1-amd64')).toBe(1);
    expect(compareKernelReleases('6.1.0-5-amd64', '6.1.0-5-amd64')).toBe(0);
    expect(chooseKernelRelease(['6.1.0-9-amd64', '6.1.0-10-amd64'], undefined)).toBe('6.1.0-10-amd64');
    // The link Debian keeps names the one to boot when it is installed.
    expect(chooseKernelRelease(['6.1.0-9-amd64', '6.1.0-10-amd64'], 'boot/vmlinuz-6.1.0-9-amd64')).toBe(
      '6.1.0-9-amd64',
    );
    expect(chooseKernelRelease(['6.1.0-9-amd64'], '/boot/vmlinuz-7.0.0-1-amd64')).toBe('6.1.0-9-amd64');
    expect(chooseKernelRelease([], undefined)).toBeUndefined();
  });

  it('is none when the image has no kernel (bake boots its own)', async () => {
    const root = await debianRoot();
    await mkdir(path.join(root, 'boot'));
    expect(await findImageKernel(root)).toBeUndefined();
    // A vmlinuz without its modules could not reach the disks: not a kernel to boot.
    await tree(root, { 'boot/vmlinuz-6.1.0-9-amd64': 'kernel' });
    expect(await findImageKernel(root)).toBeUndefined();
  });

  it('is the newest installed one, with its own modules in the order /init loads them', async () => {
    const root = await debianRoot();
    await kernelFiles(root, '6.1.0-9-cloud-amd64');
    await kernelFiles(root, '6.1.0-10-cloud-amd64');
    const kernel = await findImageKernel(root);
    expect(kernel?.version).toBe('6.1.0-10-cloud-amd64');
    expect(kernel?.vmlinuz.toString()).toBe('kernel 6.1.0-10-cloud-amd64');
    expect(kernel?.modules.map((m) => m.name)).toEqual(INITRAMFS_MODULES.map((m) => path.basename(m)));
    expect(kernel?.modules[0].data.toString()).toBe(`${INITRAMFS_MODULES[0]} for 6.1.0-10-cloud-amd64`);
  });

  it('leaves out modules built into the kernel, and refuses one that has a needed module nowhere', async () => {
    const root = await debianRoot();
    const builtIn = 'drivers/virtio/virtio_pci';
    await kernelFiles(root, '6.1.0-9-amd64', [builtIn]);
    await expect(findImageKernel(root)).rejects.toThrow(/kernel 6.1.0-9-amd64 has no virtio_pci module/);
    await tree(root, { 'usr/lib/modules/6.1.0-9-amd64/modules.builtin': `kernel/${builtIn}.ko\n` });
    const kernel = await findImageKernel(root);
    expect(kernel?.modules.map((m) => m.name)).not.toContain('virtio_pci');
    expect(kernel?.modules).toHaveLength(INITRAMFS_MODULES.length - 1);
  });

  it("reads the image's links inside the image: never a host file through an absolute or climbing link", async () => {
    const host = await temp();
    // What a hostile image would point at on the host.
    await kernelFiles(host, '9.9.9-host');
    await tree(host, { secret: 'host secret' });
    const root = await debianRoot();
    // /boot leads to the host's folder by its absolute host path: inside the image that path does not exist.
    await symlink(path.join(host, 'boot'), path.join(root, 'boot'));
    expect(await findImageKernel(root)).toBeUndefined();
    await rm(path.join(root, 'boot'));
    // A kernel file that climbs out with ../ stays at the image's root, where that name is the image's own.
    await kernelFiles(root, '6.1.0-9-amd64');
    await rm(path.join(root, 'boot/vmlinuz-6.1.0-9-amd64'));
    const climb = `${'../'.repeat(20)}${path.relative('/', path.join(host, 'secret'))}`;
    await symlink(climb, path.join(root, 'boot/vmlinuz-6.1.0-9-amd64'));
    expect(await findImageKernel(root)).toBeUndefined();
    await tree(root, { [path.relative('/', path.join(host, 'secret'))]: 'the image’s own file of that name' });
    expect((await findImageKernel(root))?.vmlinuz.toString()).toBe('the image’s own file of that name');
    expect(await resolveInRoot(root, '/boot/vmlinuz-6.1.0-9-amd64')).toBe(path.join(root, host, 'secret'));
    // A loop of links ends, with nothing found.
    await symlink('loop-b', path.join(root, 'loop-a'));
    await symlink('loop-a', path.join(root, 'loop-b'));
    expect(await resolveInRoot(root, '/loop-a')).toBeUndefined();
  });

  it("boots with bake's initramfs and a second archive of this kernel's modules after it", () => {
    const bake = cpioNewc([{ name: 'init', mode: 0o100755, data: Buffer.from('#!/bin/sh\n') }]);
    const made = initramfsFor(bake, {
      version: '6.1.0-9-amd64',
      vmlinuz: Buffer.from('k'),
      modules: [
        { name: 'virtio', data: Buffer.from('v') },
        { name: 'overlay', data: Buffer.from('o') },
      ],
    });
    expect(made.subarray(0, bake.length).equals(bake)).toBe(true);
    const appended = made.subarray(bake.length).toString('latin1');
    expect(appended.startsWith('070701')).toBe(true);
    expect(appended).toContain('modules/virtio.ko');
    expect(appended).toContain('modules.order\0');
    expect(appended).toContain('virtio\noverlay\n');
    expect(appended).toContain('TRAILER!!!');
  });
});

describe('the size of a local VM', () => {
  const big = { cores: 64, availableMiB: 512 * 1024 };

  it("is the instance type's vCPUs and memory, and today's 1 vCPU / 1 GiB for a type bake does not know", () => {
    expect(instanceTypeSize('t3.micro')).toEqual({ cpus: 2, memoryMiB: 1024 });
    expect(instanceTypeSize('t3a.nano')).toEqual({ cpus: 2, memoryMiB: 512 });
    expect(instanceTypeSize('m5.large')).toEqual({ cpus: 2, memoryMiB: 8192 });
    expect(instanceTypeSize('m6i.2xlarge')).toEqual({ cpus: 8, memoryMiB: 32768 });
    expect(instanceTypeSize('c5.xlarge')).toEqual({ cpus: 4, memoryMiB: 8192 });
    expect(instanceTypeSize('r5.large')).toEqual({ cpus: 2, memoryMiB: 16384 });
    expect(instanceTypeSize('m5.micro')).toBeUndefined();
    expect(instanceTypeSize('x9z.large')).toBeUndefined();
    expect(instanceTypeSize('__proto__.large')).toBeUndefined();
    expect(sizeVm('m1.small', big)).toEqual(DEFAULT_VM_SIZE);
    expect(sizeVm(undefined, big)).toEqual(DEFAULT_VM_SIZE);
    expect(sizeVm('t3.small', big)).toEqual({ cpus: 2, memoryMiB: 2048 });
  });

  it("is capped by the host's cores and half its available memory, and says so", () => {
    const sized = sizeVm('m5.xlarge', { cores: 2, availableMiB: 6000 });
    expect(sized).toMatchObject({ cpus: 2, memoryMiB: 3000 });
    expect(sized.capped).toBe(
      'bake: m5.xlarge asks for 4 vCPU, 16384 MiB; this local VM has 2 vCPU, 3000 MiB (the host has 2 cores and 6000 MiB available, of which a VM gets at most half)',
    );
    // Never below what a Debian kernel with systemd boots in.
    expect(sizeVm('t3.micro', { cores: 1, availableMiB: 100 })).toMatchObject({ cpus: 1, memoryMiB: 256 });
  });
});
