/**
 * Tag poisoning (issue 29, item 11), over HTTP against the local cloud with the real CLI: anyone
 * with CopyImage + CreateTags can copy an image and give it today's `bake:recipe`,
 * `bake:fingerprint` and `bake:bakery`. Plan reuses, and pin pins, only the image bake's build
 * recorded under the bakery's SSM path; a newer tagged copy is named in a warning and never used.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { cliEnv } from '../local-cloud/cli-env.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { DEFAULT_DISTRIBUTION } from './image-as-built.js';

const bake = path.resolve('bin/bake.js');
const REGION = 'us-east-1';
let cloud: LocalCloud;
let work: string;
let dir: string;
let ec2: EC2Client;
let fingerprint: string;

const run = (command: string, args: string[] = []) =>
  execa('node', [bake, command, '--endpoint', cloud.endpoint, '--dir', dir, ...args], {
    env: cliEnv(cloud.credentials),
    reject: false,
  });

interface PlanJson {
  recipes: Array<{
    name: string;
    action: string;
    reasons: string[];
    fingerprint: string;
    amis: Record<string, string>;
    warnings?: string[];
  }>;
}

/** An image of web with today's fingerprint, tagged exactly like a bake of this bakery tags it. */
const claimingToday = (name: string) =>
  taggedCopyOfBase(
    ec2,
    REGION,
    {
      'bake:recipe': 'web',
      'bake:fingerprint': fingerprint,
      'bake:bakery': 'shop',
      'bake:launch-test': 'passed',
      'bake:built-at': new Date().toISOString(),
      'bake:distribution': DEFAULT_DISTRIBUTION,
    },
    name,
  );

const tfvars = () => readFile(path.join(dir, 'infra', 'web.auto.tfvars'), 'utf8');

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-tag-poisoning-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  ec2 = new EC2Client({ region: REGION, endpoint: cloud.endpoint, credentials: cloud.credentials });
  dir = path.join(work, 'bakery');
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  await mkdir(path.join(dir, 'infra'), { recursive: true });
  await writeFile(path.join(dir, 'bake.config.yaml'), 'bakery: shop\nregions: [us-east-1]\nencrypted: false\n');
  await writeFile(
    path.join(dir, 'recipes', 'web.yaml'),
    `name: web\nbase:\n  ami: ${baseImageId(REGION)}\npin:\n  - file: ../infra/web.auto.tfvars\n    variable: web_ami\n`,
  );
  await writeFile(path.join(dir, 'infra', 'web.auto.tfvars'), '# pinned by bake\nweb_ami = {}\n');
  const plan = await run('plan', ['--json']);
  expect(plan.exitCode, plan.stderr).toBe(0);
  fingerprint = (parseJsonOutput('plan', plan.stdout) as PlanJson).recipes[0].fingerprint;
});

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('an image tagged with the current fingerprint but never recorded by a build', () => {
  let forgedFirst: string;
  let genuine: string;

  it('is not reused: plan builds and says the tagged image has no build record', async () => {
    forgedFirst = await claimingToday('forged-before');
    const plan = await run('plan', ['--json']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const [web] = (parseJsonOutput('plan', plan.stdout) as PlanJson).recipes;
    expect(web.action).toBe('build');
    expect(web.amis).toEqual({});
    expect(web.reasons).toEqual([
      `image ${forgedFirst} in ${REGION} is tagged with this fingerprint but bake has no build record of it (tags alone can be copied onto any image): baking again`,
    ]);
  });

  it('is not pinned: pin refuses, naming the image and why, and leaves the tfvars file as it was', async () => {
    const pin = await run('pin');
    expect(pin.exitCode).toBe(1);
    expect(pin.stderr).toContain(`no image with the current fingerprint for web (${REGION}; image ${forgedFirst}`);
    expect(await tfvars()).toBe('# pinned by bake\nweb_ami = {}\n');
  });

  it('loses to the recorded image even when newer, and plan names both ids in a warning', async () => {
    genuine = await claimingToday('built-by-bake');
    await recordAsBuilt(cloud, 'shop', { recipe: 'web', fingerprint, region: REGION, imageId: genuine });
    const forgedAfter = await claimingToday('forged-after');

    const plan = await run('plan', ['--json']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const [web] = (parseJsonOutput('plan', plan.stdout) as PlanJson).recipes;
    expect([web.action, web.amis]).toEqual(['reuse', { [REGION]: genuine }]);
    const warning = `web: ${forgedAfter} in ${REGION} also claims fingerprint ${fingerprint} but bake has no build record of it: using the recorded ${genuine}`;
    expect(web.warnings).toEqual([warning]);
    expect(plan.stderr).toContain(`warning: ${warning}`);
    // The older copy is no threat (tags alone never picked it over the newer genuine image): not named.
    expect(plan.stderr).not.toContain(forgedFirst);

    const pin = await run('pin');
    expect(pin.exitCode, pin.stderr).toBe(0);
    expect(pin.stderr).toContain(`warning: ${warning}`);
    expect(await tfvars()).toContain(`${REGION} = "${genuine}"`);
    expect(await tfvars()).not.toContain(forgedAfter);
  });

  it('a record naming something other than an image id is no record', async () => {
    const { PutParameterCommand, SSMClient } = await import('@aws-sdk/client-ssm');
    const ssm = new SSMClient({ region: REGION, endpoint: cloud.endpoint, credentials: cloud.credentials });
    try {
      await ssm.send(
        new PutParameterCommand({
          Name: `/bake/shop/images/web/${fingerprint}`,
          Value: 'not json',
          Type: 'String',
          Overwrite: true,
        }),
      );
    } finally {
      ssm.destroy();
    }
    const plan = await run('plan', ['--json']);
    const [web] = (parseJsonOutput('plan', plan.stdout) as PlanJson).recipes;
    expect(web.action).toBe('build');
  });
});
