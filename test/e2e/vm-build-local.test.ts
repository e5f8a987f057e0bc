/**
 * A VM recipe (`local: {machine: vm}`) baked as users bake it: `bake build --local` with real
 * Packer 1.6.6 and real ansible-playbook. The role installs a Debian kernel (through the local
 * cloud's apt proxy) and reboots with Ansible's `reboot` module, so the build instance must come
 * back as the same instance, booting the kernel the role installed; the recipe's checks (at the
 * build and in the launch test, on a VM booted from the new image) compare `uname -r` with the
 * installed kernel and ask systemd-detect-virt. Heavy (three VM boots under software emulation):
 * run it alone.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { mountsUnder } from '../../src/local-cloud/rootfs.js';
import { VM_KERNEL_NAME } from '../../src/local-cloud/vm-kernel.js';
import { LAUNCH_TEST_TAG } from '../../src/tags/tag-contract.js';
import { networkLeftovers, processesUsing } from '../local-cloud/instances.js';
import { bake, bakeEnv, repo, ROOTFS_CACHE, temporaryBakery, withLocalCloud } from './local-bakery.js';

const fixture = path.join(repo, 'test/fixtures/vm-build/bakery');
// The local cloud's own lines (boot and reboot times) on stderr.
const env = bakeEnv({ BAKE_DEBUG_LOCAL_CLOUD: '1' });

interface Report {
  recipes: Array<{
    name: string;
    status: string;
    error?: string;
    log: string;
    amis: Record<string, string>;
    launch_test: { status: string; checks: Array<{ check: string; status: string; output: string }> };
  }>;
}

describe('bake build --local of a VM recipe whose role installs a kernel and reboots', () => {
  it('reboots the build instance into the installed kernel, and the image boots it in its launch test', async () => {
    const dir = await temporaryBakery('bake-vm-build-', { copy: fixture });
    const started = Date.now();
    const build = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], { env, reject: false });
    const wall = (Date.now() - started) / 1000;
    const timings = [...build.stderr.matchAll(/(i-\w+): VM (booted|rebooted) at [\d.]+ in (\d+) ms/g)].map(
      ([, id, what, ms]) => `${id} ${what} in ${(Number(ms) / 1000).toFixed(1)} s`,
    );
    console.log([`bake build --local (VM recipe): ${wall.toFixed(1)} s`, ...timings].join('\n  '));
    expect(build.exitCode, build.stderr.slice(-4000)).toBe(0);
    const [recipe] = (JSON.parse(build.stdout) as Report).recipes;
    expect(recipe).toMatchObject({ name: 'kernel', status: 'built', launch_test: { status: 'passed' } });
    expect(recipe.launch_test.checks.map((c) => [c.check, c.status])).toEqual([
      ['command: test "$(uname -r)" = "$(cat /etc/bake-test-kernel-release)"', 'passed'],
      ['command: test "$(systemd-detect-virt)" = qemu', 'passed'],
    ]);

    // The build instance rebooted (once) and came back as itself; Ansible's reboot task saw it.
    expect(timings.filter((line) => line.includes(' rebooted in '))).toHaveLength(1);
    const buildLog = await readFile(recipe.log, 'utf8');
    expect(buildLog).toMatch(/TASK \[kernel : Boot the new kernel, as one does on EC2\][\s\S]*?changed:/);
    expect(buildLog).toMatch(/TASK \[kernel : Running the kernel the role installed\][\s\S]*?ok:/);

    // The kernel the image runs is the role's, not the one bake boots an image without a kernel with.
    const ami = recipe.amis['us-east-1'];
    const installed = (
      await readFile(path.join(dir, '.bake/local/images', ami, 'layer/etc/bake-test-kernel-release'), 'utf8')
    ).trim();
    const bakes = (await readFile(path.join(ROOTFS_CACHE, VM_KERNEL_NAME, 'version'), 'utf8')).trim();
    expect(installed).toMatch(/^6\.\d+\.\d+-\d+-cloud-amd64$/);
    expect(installed).not.toBe(bakes);
    console.log(`  installed kernel ${installed}; bake's VM kernel ${bakes}`);

    const tags = await withLocalCloud(path.join(dir, '.bake/local'), async (ec2) => {
      const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }));
      return Object.fromEntries(images.Images![0].Tags!.map((tag) => [tag.Key, tag.Value]));
    });
    expect(tags[LAUNCH_TEST_TAG]).toBe('passed');
    expect(await readFile(path.join(dir, 'infra/amis.auto.tfvars'), 'utf8')).toContain(`us-east-1 = "${ami}"`);

    // Nothing left: instances, qemu, namespaces, mounts, VM disks.
    const state = JSON.parse(await readFile(path.join(dir, '.bake/local/state.json'), 'utf8')) as {
      instances: Array<{ instanceId: string; state: string; ip?: string }>;
    };
    expect(state.instances.filter((i) => i.state !== 'terminated').map((i) => i.instanceId)).toEqual([]);
    const instancesDir = path.join(dir, '.bake/local/instances');
    const kept = existsSync(instancesDir) ? await readdir(instancesDir, { recursive: true }) : [];
    expect(kept.filter((name) => String(name).endsWith('.ext4') || !String(name).startsWith('.'))).toEqual([]);
    expect(processesUsing(dir)).toEqual([]);
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await networkLeftovers(state.instances.flatMap((i) => (i.ip ? [i.ip] : [])))).toEqual([]);
  }, 3_600_000);
});
