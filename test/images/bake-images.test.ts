/**
 * `bake images` as Jenkins or a person runs it: the built CLI against the local cloud over HTTP,
 * a recipe pinned in tfvars and SSM, images current and older, one pin naming a deleted image.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeregisterImageCommand, EC2Client, EnableImageDeprecationCommand } from '@aws-sdk/client-ec2';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { DEFAULT_DISTRIBUTION } from '../pipeline/image-as-built.js';
import { parseJsonOutput } from '../schema/json-schemas.js';

/** `bake images --json` (schema/images.schema.json). */
interface ImagesJson {
  recipes: Array<{
    name: string;
    regions: Array<{
      region: string;
      current?: string;
      images: Array<{
        image_id: string;
        current: boolean;
        age_days: number;
        launch_test?: string;
        sharing: string;
        pinned_by: string[];
        deprecation_time?: string;
      }>;
    }>;
  }>;
  attention: Array<{ kind: string; recipe: string; region: string; place: string; ami?: string; message: string }>;
}

const bake = path.resolve('bin/bake.js');
let cloud: LocalCloud;
let dir: string;
const clients: Array<EC2Client | SSMClient> = [];
const ec2 = (region: string) => {
  const client = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
  clients.push(client);
  return client;
};
let env: NodeJS.ProcessEnv;
const images = (...args: string[]) =>
  execa('node', [bake, 'images', '--dir', dir, '--endpoint', cloud.endpoint, ...args], { env, reject: false });

const amis: Record<string, string> = {};
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

beforeAll(async () => {
  const work = await mkdtemp(path.join(tmpdir(), 'bake-images-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: cloud.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: cloud.credentials.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    CI: 'true',
  };
  dir = path.join(work, 'bakery');
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  await mkdir(path.join(dir, 'infra'), { recursive: true });
  await writeFile(path.join(dir, 'bake.config.yaml'), 'regions: [us-east-1, eu-west-1]\nencrypted: false\n');
  await writeFile(
    path.join(dir, 'recipes', 'web.yaml'),
    `name: web\nbase:\n  ami: ${baseImageId('us-east-1')}\npin:\n  - file: ../infra/amis.auto.tfvars\n    variable: web_ami\n  - ssm: /images/web/ami\n`,
  );
  const plan = await execa('node', [bake, 'plan', '--dir', dir, '--endpoint', cloud.endpoint, '--json'], { env });
  const { fingerprint } = (parseJsonOutput('plan', plan.stdout) as { recipes: Array<{ fingerprint: string }> })
    .recipes[0];
  const tags = (fp: string, age: number, extra: Record<string, string> = {}) => ({
    'bake:recipe': 'web',
    'bake:fingerprint': fp,
    'bake:built-at': daysAgo(age),
    'bake:distribution': DEFAULT_DISTRIBUTION,
    ...extra,
  });
  amis.eastNow = await taggedCopyOfBase(
    ec2('us-east-1'),
    'us-east-1',
    tags(fingerprint, 1, { 'bake:launch-test': 'passed' }),
    'web-east-now',
  );
  amis.eastOld = await taggedCopyOfBase(
    ec2('us-east-1'),
    'us-east-1',
    tags('0ld0ld0ld0ld0ld0', 40, { 'bake:launch-test': 'failed' }),
    'web-east-old',
  );
  amis.westNow = await taggedCopyOfBase(ec2('eu-west-1'), 'eu-west-1', tags(fingerprint, 1), 'web-west-now');
  amis.westGone = await taggedCopyOfBase(ec2('eu-west-1'), 'eu-west-1', tags('g0neg0neg0neg0ne', 90), 'web-west-gone');
  // The current images as their build recorded them (the bakery is named after its folder).
  for (const [region, imageId] of [
    ['us-east-1', amis.eastNow],
    ['eu-west-1', amis.westNow],
  ])
    await recordAsBuilt(cloud, 'bakery', { recipe: 'web', fingerprint, region, imageId });
  await ec2('us-east-1').send(
    new EnableImageDeprecationCommand({ ImageId: amis.eastOld, DeprecateAt: new Date('2027-03-01T00:00:00Z') }),
  );
  await ec2('eu-west-1').send(new DeregisterImageCommand({ ImageId: amis.westGone }));
  await writeFile(
    path.join(dir, 'infra', 'amis.auto.tfvars'),
    `web_ami = {\n  us-east-1 = "${amis.eastNow}"\n  eu-west-1 = "${amis.westGone}" # deleted by hand\n}\n`,
  );
  const ssm = new SSMClient({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
  clients.push(ssm);
  await ssm.send(
    new PutParameterCommand({
      Name: '/images/web/ami',
      Value: amis.eastOld,
      Type: 'String',
      DataType: 'aws:ec2:image',
    }),
  );
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await cloud?.close();
});

describe('bake images', () => {
  it('lists current and older images per region with what pins each, and what needs attention', async () => {
    const run = await images('--json');
    expect(run.exitCode, run.stderr).toBe(0);
    const inventory = parseJsonOutput<ImagesJson>('images', run.stdout);
    const [web] = inventory.recipes;
    const east = web.regions.find((r) => r.region === 'us-east-1')!;
    expect(east.current).toBe(amis.eastNow);
    expect(east.images.map((i) => [i.image_id, i.current, i.age_days, i.launch_test, i.sharing, i.pinned_by])).toEqual([
      [amis.eastNow, true, 1, 'passed', 'private', ['infra/amis.auto.tfvars:web_ami["us-east-1"]']],
      [amis.eastOld, false, 40, 'failed', 'private', ['ssm:us-east-1:/images/web/ami']],
    ]);
    expect(east.images[1].deprecation_time).toMatch(/^2027-03-01T00:00:00/);
    const west = web.regions.find((r) => r.region === 'eu-west-1')!;
    expect(west.images.map((i) => i.image_id)).toEqual([amis.westNow]);
    expect(west.images[0].pinned_by).toEqual([]);

    expect(inventory.attention.map((a) => [a.kind, a.region, a.place, a.ami ?? null])).toEqual([
      ['broken-pin', 'eu-west-1', 'infra/amis.auto.tfvars:web_ami["eu-west-1"]', amis.westGone],
      ['stale-pin', 'us-east-1', 'ssm:us-east-1:/images/web/ami', amis.eastOld],
      ['not-pinned', 'eu-west-1', 'ssm:eu-west-1:/images/web/ami', null],
    ]);
  });

  it('prints a table a person can read, and the problems under it', async () => {
    const run = await images();
    expect(run.exitCode, run.stderr).toBe(0);
    // The answer on stdout as it is: no timestamp, though stdout is a pipe (issue 30).
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^web \(fingerprint [0-9a-f]{16}\)$/);
    expect(lines[1]).toMatch(
      /^ {2}REGION +IMAGE +FINGERPRINT +AGE +DEPRECATES +LAUNCH TEST +SECURITY +SHARED WITH +PINNED BY$/,
    );
    const row = lines.find((line) => line.includes(amis.eastOld))!;
    expect(row).toMatch(
      /^ {2}us-east-1 +ami-\w+ +older +0ld0ld0ld0ld0ld0 +40d +2027-03-01 +failed +not scanned +private +ssm:us-east-1:\/images\/web\/ami$/,
    );
    // Columns line up: every row's image id starts where the header's IMAGE does.
    const column = lines[1].indexOf('IMAGE');
    for (const line of lines.filter((l) => /^  (us|eu)-/.test(l))) expect(line.indexOf('ami-')).toBe(column);
    expect(lines).toContain('needs attention:');
    expect(run.stdout).toContain(
      `BROKEN  web eu-west-1: infra/amis.auto.tfvars:web_ami["eu-west-1"] names ${amis.westGone}, which no longer exists`,
    );
    expect(run.stdout).toContain(`not the current image: the current image is ${amis.eastNow} (bake pin)`);
  });

  it('exits 2 with --detailed-exitcode while a pin names a deleted image, and 0 once it is repinned', async () => {
    expect((await images('--detailed-exitcode')).exitCode).toBe(2);
    await writeFile(
      path.join(dir, 'infra', 'amis.auto.tfvars'),
      `web_ami = {\n  us-east-1 = "${amis.eastNow}"\n  eu-west-1 = "${amis.westNow}"\n}\n`,
    );
    const run = await images('--detailed-exitcode', '--json');
    expect(run.exitCode, run.stderr).toBe(0);
    expect(parseJsonOutput<ImagesJson>('images', run.stdout).attention.map((a) => a.kind)).toEqual([
      'stale-pin',
      'not-pinned',
    ]);
  });
});
