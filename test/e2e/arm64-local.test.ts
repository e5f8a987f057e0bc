/**
 * The example bakery's web and its base, each for x86_64 and arm64, baked for real in the local
 * cloud: `bake build web --local` generates a template per (recipe, architecture), real Packer
 * 1.6.6 boots Debian's amd64 base on t3.small and its arm64 base on a Graviton type (t4g.small)
 * under qemu-user, real Ansible runs the same roles in both, the verify checks and the launch
 * tests run on instances of each architecture (an arm64-only check: uname -m is aarch64), the AMIs
 * come out tagged and registered with their architecture, and each is pinned to its variable.
 * The arm64 root filesystem comes from the run's cache (BAKE_ROOTFS_CACHE), made once.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseRootfs } from '../../src/local-cloud/rootfs.js';
import { bake, bakeEnv, EXAMPLE_BAKERY, repo, ROOTFS_CACHE, temporaryBakery, withLocalCloud } from './local-bakery.js';

interface Report {
  recipes: Array<{
    name: string;
    arch: string;
    status: string;
    amis: Record<string, string>;
    launch_test?: { status: string; instance_type: string; checks: Array<{ check: string; status: string }> };
  }>;
}

describe('bake build --local of recipes for x86_64 and arm64', () => {
  beforeAll(async () => {
    // Made once per machine (10-20 minutes under emulation), not inside the build's own timing.
    await ensureBaseRootfs({ cacheDir: ROOTFS_CACHE, architecture: 'arm64', log: (line) => console.log(line) });
  });

  it("bakes the example bakery's web (and its base) for x86_64 and arm64 and pins each architecture", async () => {
    const recipe = (name: string) => readFile(path.join(repo, 'recipes', `${name}.yaml`), 'utf8');
    const bothArchitectures = 'architectures: [x86_64, arm64]\ninstance_types: { arm64: t4g.small }\nbase:';
    const base = (await recipe('base'))
      .replace('base:', bothArchitectures)
      .replace('name: debian-12-amd64-*', 'name: debian-12-*')
      .replace('variable: base_ami', 'variable: base_ami\n    arch_variables: { arm64: base_ami_arm64 }');
    const web = (await recipe('web'))
      .replace('base:', bothArchitectures)
      .replace('variable: web_ami\n', 'variable: web_ami\n    arch_variables: { arm64: web_ami_arm64 }\n')
      .replaceAll(
        'variable: web_ami, environment:',
        'variable: web_ami, arch_variables: { arm64: web_ami_arm64 }, environment:',
      )
      .replace(
        '  checks:\n',
        '  checks:\n    - command: test "$(dpkg --print-architecture)" != arm64 || test "$(uname -m)" = aarch64\n',
      );
    const dir = await temporaryBakery('bake-e2e-arm64-example-', {
      copy: repo,
      entries: EXAMPLE_BAKERY,
      files: { 'recipes/base.yaml': base, 'recipes/web.yaml': web },
    });
    const started = Date.now();
    const build = await execa('node', [bake, 'build', 'web', '--local', '--dir', dir, '--json'], {
      env: bakeEnv(),
      reject: false,
    });
    console.log(
      `bake build web --local (example bakery, x86_64 + arm64): ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(build.exitCode, build.stderr.slice(-4000)).toBe(0);
    const recipes = (JSON.parse(build.stdout) as Report).recipes;
    expect(recipes.map((entry) => [entry.name, entry.arch]).sort()).toEqual([
      ['base', 'x86_64'],
      ['base.arm64', 'arm64'],
      ['web', 'x86_64'],
      ['web.arm64', 'arm64'],
    ]);
    for (const entry of recipes) {
      expect(entry.status, entry.name).toBe('built');
      expect(entry.launch_test?.status, entry.name).toBe('passed');
      expect(entry.launch_test?.instance_type).toBe(entry.arch === 'arm64' ? 't4g.small' : 't3.small');
    }
    const ami = (name: string) => recipes.find((entry) => entry.name === name)!.amis['us-east-1'];
    const tfvars = await readFile(path.join(dir, 'infra/web/amis.auto.tfvars'), 'utf8');
    expect(tfvars).toContain(ami('web'));
    expect(tfvars).toMatch(new RegExp(`web_ami_arm64[\\s\\S]*${ami('web.arm64')}`));
    await withLocalCloud(path.join(dir, '.bake/local'), async (ec2) => {
      const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ami('web.arm64')] }))).Images!;
      expect(image.Architecture).toBe('arm64');
      expect(image.Tags).toContainEqual({ Key: 'bake:recipe', Value: 'web' });
      expect(image.Tags).toContainEqual({ Key: 'bake:arch', Value: 'arm64' });
    });
  });
});
