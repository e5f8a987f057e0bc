/**
 * x86_64 and arm64 from one recipe (issue 28), as Jenkins runs bake: the built CLI against the
 * local cloud over HTTP. Images as built are registered with their Architecture; each
 * (recipe, architecture) pair is planned, reused, pinned, listed and pruned on its own, and a
 * recipe that names no architectures beside them is pinned exactly as before.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeImagesCommand, EC2Client, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBIAN_ACCOUNT, baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { imageTags } from '../../src/pipeline/build-tags.js';
import { DISTRIBUTION_TAG } from '../../src/tags/tag-contract.js';
import { splitRecipeKey } from '../../src/tags/architecture.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { cliEnv } from '../local-cloud/cli-env.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { DEFAULT_DISTRIBUTION } from './image-as-built.js';

const bake = path.resolve('bin/bake.js');
const REGION = 'us-east-1';
let cloud: LocalCloud;
let dir: string;
let ec2: EC2Client;
let ssm: SSMClient;
let arm64Base: string;

const TFVARS = [
  '# AMIs pinned by bake; edit by hand at your own risk',
  'legacy_ami = {',
  '  us-east-1 = "ami-00000000000000001" # the legacy pin',
  '}',
  '',
  'web_ami = {',
  '  us-east-1 = "ami-00000000000000002"',
  '}',
  '',
].join('\n');

beforeAll(async () => {
  const work = await mkdtemp(path.join(tmpdir(), 'bake-architectures-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  ec2 = new EC2Client({ region: REGION, endpoint: cloud.endpoint, credentials: cloud.credentials });
  ssm = new SSMClient({ region: REGION, endpoint: cloud.endpoint, credentials: cloud.credentials });
  // Debian's arm64 AMI, which the local cloud seeds beside the amd64 one.
  arm64Base = baseImageId(REGION, 'arm64');
  dir = path.join(work, 'bakery');
  const files: Record<string, string> = {
    'bake.config.yaml': 'bakery: arch-test\nregions: [us-east-1]\nencrypted: false\n',
    'recipes/base.yaml': [
      'name: base',
      'base:',
      `  filter: { name: "debian-12-*", owners: ["${DEBIAN_ACCOUNT}"] }`,
      'architectures: [x86_64, arm64]',
      '',
    ].join('\n'),
    'recipes/web.yaml': [
      'name: web',
      'base: { recipe: base }',
      'architectures: [x86_64, arm64]',
      'instance_types: { x86_64: t3.small, arm64: t4g.small }',
      'pin:',
      '  - file: ../infra/amis.auto.tfvars',
      '    variable: web_ami',
      '    arch_variables: { arm64: web_ami_arm64 }',
      '  - ssm: /images/web/ami',
      '    arch_ssm: { arm64: /images/web/arm64/ami }',
      '',
    ].join('\n'),
    'recipes/legacy.yaml': `name: legacy\nbase: { ami: ${baseImageId(REGION)} }\npin:\n  - file: ../infra/amis.auto.tfvars\n    variable: legacy_ami\n`,
    'infra/amis.auto.tfvars': TFVARS,
  };
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
});

afterAll(async () => {
  ec2?.destroy();
  ssm?.destroy();
  await cloud?.close();
});

const run = (command: string, ...args: string[]) =>
  execa('node', [bake, command, '--endpoint', cloud.endpoint, '--dir', dir, ...args], {
    env: cliEnv(cloud.credentials),
    reject: false,
  });

interface PlanEntry {
  name: string;
  arch: string;
  action: string;
  fingerprint: string;
  inputs: string;
  base_ami: string;
  amis: Record<string, string>;
}

async function plan(...args: string[]): Promise<PlanEntry[]> {
  const result = await run('plan', '--json', ...args);
  expect(result.exitCode, result.stderr).toBe(0);
  return parseJsonOutput<{ recipes: PlanEntry[] }>('plan', result.stdout).recipes;
}

/** The image `bake build` leaves for a planned pair: its architecture's, tagged and recorded as bake does. */
async function imageAsBuilt(entry: PlanEntry, builtAt: string, fingerprint = entry.fingerprint): Promise<string> {
  const { recipe, architecture } = splitRecipeKey(entry.name);
  const tags: Record<string, string> = {
    ...imageTags({
      recipe,
      architecture,
      userTags: {},
      fingerprint,
      gitCommit: 'unknown',
      baseAmi: entry.base_ami || 'ami-parent',
      builtAt,
      inputs: entry.inputs,
      bakery: 'arch-test',
    }),
    [DISTRIBUTION_TAG]: DEFAULT_DISTRIBUTION,
  };
  const { ImageId } = await ec2.send(
    new RegisterImageCommand({
      Name: `${tags.Name}-${fingerprint}`,
      Architecture: architecture,
      RootDeviceName: '/dev/xvda',
      TagSpecifications: [
        { ResourceType: 'image', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  await recordAsBuilt(cloud, 'arch-test', { recipe: entry.name, fingerprint, region: 'us-east-1', imageId: ImageId! });
  return ImageId!;
}

describe('one recipe, two architectures, against the local cloud', () => {
  const built: Record<string, string> = {};

  it('plans each (recipe, architecture) pair with its own base image and fingerprint', async () => {
    const first = await plan();
    expect(first.map((e) => [e.name, e.arch, e.action])).toEqual([
      ['base', 'x86_64', 'build'],
      ['base.arm64', 'arm64', 'build'],
      ['legacy', 'x86_64', 'build'],
      ['web', 'x86_64', 'build'],
      ['web.arm64', 'arm64', 'build'],
    ]);
    const of = (name: string) => first.find((e) => e.name === name)!;
    // The filter narrowed to each architecture finds each architecture's Debian image.
    expect(of('base').base_ami).toBe(baseImageId(REGION));
    expect(of('base.arm64').base_ami).toBe(arm64Base);
    expect(of('web').fingerprint).not.toBe(of('web.arm64').fingerprint);

    for (const entry of first) built[entry.name] = await imageAsBuilt(entry, new Date().toISOString());
    const second = await plan();
    expect(second.map((e) => [e.name, e.action, e.amis])).toEqual(
      first.map((e) => [e.name, 'reuse', { [REGION]: built[e.name] }]),
    );
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [built['web.arm64']] }));
    expect(Images[0].Tags).toEqual(
      expect.arrayContaining([
        { Key: 'bake:arch', Value: 'arm64' },
        { Key: 'bake:recipe', Value: 'web' },
      ]),
    );
  });

  it('plans one architecture with --arch, and refuses an architecture a named recipe does not build', async () => {
    expect((await plan('--arch', 'arm64')).map((e) => [e.name, e.arch])).toEqual([
      ['base.arm64', 'arm64'],
      ['web.arm64', 'arm64'],
    ]);
    expect((await plan('web', '--arch', 'x86_64')).map((e) => e.name)).toEqual(['web']);
    const refused = await run('plan', 'legacy', '--arch', 'arm64');
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toBe('legacy builds no arm64 image (--arch arm64)');
    const hostile = await run('plan', '--arch', 'arm64; rm -rf /');
    expect(hostile.exitCode).toBe(1);
    expect(hostile.stderr.trim().split('\n')).toHaveLength(1);
    expect(hostile.stderr).toContain('expected x86_64 or arm64');
  });

  it('pins each architecture into its own variable and SSM parameter, leaving the legacy pin laid out as it was', async () => {
    const pinned = await run('pin');
    expect(pinned.exitCode, pinned.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'infra/amis.auto.tfvars'), 'utf8')).toBe(
      [
        '# AMIs pinned by bake; edit by hand at your own risk',
        'legacy_ami = {',
        `  us-east-1 = "${built.legacy}" # the legacy pin`,
        '}',
        '',
        'web_ami = {',
        `  us-east-1 = "${built.web}"`,
        '}',
        '',
        'web_ami_arm64 = {',
        `  us-east-1 = "${built['web.arm64']}"`,
        '}',
        '',
      ].join('\n'),
    );
    const parameter = async (name: string) =>
      (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
    expect(await parameter('/images/web/ami')).toBe(built.web);
    expect(await parameter('/images/web/arm64/ami')).toBe(built['web.arm64']);
    // Pinned again: nothing to change.
    expect((await run('pin', '--check')).exitCode).toBe(0);
  });

  it('lists each pair with its architecture and its own pins', async () => {
    const result = await run('images', '--json', '--arch', 'arm64');
    expect(result.exitCode, result.stderr).toBe(0);
    const inventory = parseJsonOutput<{
      recipes: Array<{
        name: string;
        arch: string;
        regions: Array<{ current?: string; images: Array<{ image_id: string; pinned_by: unknown[] }> }>;
      }>;
    }>('images', result.stdout);
    expect(inventory.recipes.map((r) => [r.name, r.arch, r.regions[0].current])).toEqual([
      ['base.arm64', 'arm64', built['base.arm64']],
      ['web.arm64', 'arm64', built['web.arm64']],
    ]);
    const web = inventory.recipes[1].regions[0].images.find((image) => image.image_id === built['web.arm64'])!;
    expect(JSON.stringify(web.pinned_by)).toContain('web_ami_arm64');
  });

  it("prunes an architecture's old images by its own current fingerprint and newest, never the other's", async () => {
    const web = (await plan('web')).find((e) => e.name === 'web')!;
    const arm = (await plan('web')).find((e) => e.name === 'web.arm64')!;
    const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const oldX86 = await imageAsBuilt(web, weekAgo, 'aaaaaaaaaaaaaaaa');
    const oldArm = await imageAsBuilt(arm, weekAgo, 'bbbbbbbbbbbbbbbb');
    const result = await run('prune', '--json', '--keep', '0', 'web');
    expect(result.exitCode, result.stderr).toBe(0);
    const report = parseJsonOutput<{
      images: Array<{ image_id: string; recipe: string; arch: string; action: string; reasons: string[] }>;
    }>('prune', result.stdout);
    const decided = Object.fromEntries(
      report.images.map((image) => [image.image_id, [image.recipe, image.arch, image.action]]),
    );
    expect(decided).toEqual({
      [built.web]: ['web', 'x86_64', 'keep'],
      [built['web.arm64']]: ['web.arm64', 'arm64', 'keep'],
      [oldX86]: ['web', 'x86_64', 'delete'],
      [oldArm]: ['web.arm64', 'arm64', 'delete'],
    });
    const current = report.images.find((image) => image.image_id === built['web.arm64'])!;
    expect(current.reasons.join('; ')).toContain('current fingerprint of web.arm64');
  });
});
