/**
 * One recipe, two architectures, baked for real in the local cloud: `bake build --local` generates
 * a template per architecture, real Packer 1.6.6 boots Debian's amd64 base on t3.small and its
 * arm64 base on a Graviton type (t4g.small) under qemu-user, real Ansible runs the same role in
 * both, the verify checks and the launch tests run on instances of each architecture, and the
 * AMIs come out tagged and registered with their architecture.
 * The arm64 root filesystem comes from the run's cache (BAKE_ROOTFS_CACHE), made once.
 */
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { bake, bakeEnv, ROOTFS_CACHE, temporaryBakery, withLocalCloud } from './local-bakery.js';

const RECIPE = `name: probe
description: the same image for x86_64 and arm64, from Debian's base of each
base: { filter: { name: "debian-12-*", owners: ["136693071363"] } }
regions: [us-east-1]
architectures: [x86_64, arm64]
instance_type: t3.small
instance_types: { arm64: t4g.small }
encrypted: false
roles: [probe]
verify:
  - file: /etc/probe-arch
launch_test:
  checks:
    # The instance is the machine its image claims: an arm64 image runs on aarch64, an amd64 one on x86_64.
    - command: test "$(dpkg --print-architecture)" != arm64 || test "$(uname -m)" = aarch64
    - command: test "$(dpkg --print-architecture)" != amd64 || test "$(uname -m)" = x86_64
    # Ansible on the build instance saw the same architecture the test instance runs.
    - command: test "$(uname -m)" = "$(cat /etc/probe-arch)"
`;
const ROLE = `- ansible.builtin.copy: { dest: /etc/probe-arch, content: "{{ ansible_facts.architecture }}\\n", mode: "0644" }
`;

interface Report {
  recipes: Array<{
    name: string;
    arch: string;
    status: string;
    amis: Record<string, string>;
    launch_test?: { status: string; instance_type: string; checks: Array<{ check: string; status: string }> };
  }>;
}

describe('bake build --local of a recipe for x86_64 and arm64', () => {
  beforeAll(async () => {
    // Made once per machine (10-20 minutes under emulation), not inside the build's own timing.
    await ensureBaseRootfs({ cacheDir: ROOTFS_CACHE, architecture: 'arm64', log: (line) => console.log(line) });
  });

  it('bakes each architecture with Packer and Ansible, launch-tests each on its own instance type, and registers both AMIs', async () => {
    const dir = await temporaryBakery('bake-e2e-arm64-', {
      files: { 'recipes/probe.yaml': RECIPE, 'roles/probe/tasks/main.yml': ROLE },
    });
    const started = Date.now();
    const build = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], {
      env: bakeEnv(),
      reject: false,
    });
    console.log(
      `bake build --local (x86_64 + arm64, Packer + Ansible + launch tests): ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(build.exitCode, build.stderr.slice(-4000)).toBe(0);
    const recipes = (JSON.parse(build.stdout) as Report).recipes;
    expect(recipes.map((recipe) => [recipe.name, recipe.arch]).sort()).toEqual([
      ['probe', 'x86_64'],
      ['probe.arm64', 'arm64'],
    ]);
    const expected: Record<string, { type: string; architecture: string }> = {
      probe: { type: 't3.small', architecture: 'x86_64' },
      'probe.arm64': { type: 't4g.small', architecture: 'arm64' },
    };
    for (const recipe of recipes) {
      expect(recipe.status).toBe('built');
      expect(recipe.launch_test?.status).toBe('passed');
      expect(recipe.launch_test?.instance_type).toBe(expected[recipe.name].type);
      expect(recipe.launch_test?.checks.every((check) => check.status === 'passed')).toBe(true);
    }

    await withLocalCloud(path.join(dir, '.bake/local'), async (ec2) => {
      for (const recipe of recipes) {
        const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [recipe.amis['us-east-1']] }))).Images!;
        expect(image.Architecture).toBe(expected[recipe.name].architecture);
        expect(image.Tags).toContainEqual({ Key: 'bake:recipe', Value: 'probe' });
        expect(image.Tags).toContainEqual({ Key: 'bake:arch', Value: expected[recipe.name].architecture });
      }
    });
  });
});
