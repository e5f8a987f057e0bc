/**
 * An arm64 image baked for real in the local cloud: `bake build --local` generates the template,
 * real Packer 1.6.6 boots the Debian arm64 base on a Graviton type (t4g.small) under qemu-user,
 * real Ansible runs a role inside it, the verify checks and the launch test run on arm64
 * instances, and the AMI comes out arm64. Until recipes say `architectures:`, an arm64 recipe is
 * one whose base filter names the arm64 image and whose instance type is a Graviton one.
 * The arm64 root filesystem comes from the run's cache (BAKE_ROOTFS_CACHE), made once.
 */
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { bake, bakeEnv, ROOTFS_CACHE, temporaryBakery, withLocalCloud } from './local-bakery.js';

const RECIPE = `name: probe
description: an arm64 image made from Debian's arm64 base
base: { filter: { name: "debian-12-arm64-*", owners: ["136693071363"] } }
regions: [us-east-1]
instance_type: t4g.small
encrypted: false
roles: [probe]
verify:
  - file: /etc/probe-arch
    contains: aarch64
launch_test:
  checks:
    - command: test "$(uname -m)" = aarch64 && test "$(dpkg --print-architecture)" = arm64
    - file: /etc/probe-arch
`;
const ROLE = `- ansible.builtin.copy: { dest: /etc/probe-arch, content: "{{ ansible_facts.architecture }}\\n", mode: "0644" }
`;

interface Report {
  recipes: Array<{
    name: string;
    status: string;
    amis: Record<string, string>;
    launch_test?: { status: string; instance_type: string; checks: Array<{ check: string; status: string }> };
  }>;
}

describe('bake build --local of an arm64 recipe', () => {
  beforeAll(async () => {
    // Made once per machine (10-20 minutes under emulation), not inside the build's own timing.
    await ensureBaseRootfs({ cacheDir: ROOTFS_CACHE, architecture: 'arm64', log: (line) => console.log(line) });
  });

  it('bakes with Packer and Ansible on a t4g instance, launch-tests on arm64, and registers an arm64 AMI', async () => {
    const dir = await temporaryBakery('bake-e2e-arm64-', {
      files: { 'recipes/probe.yaml': RECIPE, 'roles/probe/tasks/main.yml': ROLE },
    });
    const started = Date.now();
    const build = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], {
      env: bakeEnv(),
      reject: false,
    });
    console.log(
      `bake build --local (arm64, Packer + Ansible + launch test): ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(build.exitCode, build.stderr.slice(-4000)).toBe(0);
    const [recipe] = (JSON.parse(build.stdout) as Report).recipes;
    expect(recipe.status).toBe('built');
    expect(recipe.launch_test?.status).toBe('passed');
    expect(recipe.launch_test?.instance_type).toBe('t4g.small');
    expect(recipe.launch_test?.checks.every((check) => check.status === 'passed')).toBe(true);

    await withLocalCloud(path.join(dir, '.bake/local'), async (ec2) => {
      const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [recipe.amis['us-east-1']] }))).Images!;
      expect(image.Architecture).toBe('arm64');
      expect(image.Tags).toContainEqual({ Key: 'bake:recipe', Value: 'probe' });
    });
  });
});
