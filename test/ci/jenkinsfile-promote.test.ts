/**
 * The repository's Jenkinsfile.promote, evaluated by Groovy (test/ci/run-jenkinsfile.groovy plays
 * Jenkins' steps, `input` included; `sh` runs for real) against the local cloud's EC2 API: staging
 * is promoted as soon as the soak allows, prod only behind the `input` step whose submitter is
 * recorded on the images, and rollback and revoke run as parameterised builds. The pins travel
 * through the bakery's git repository, as a team's would (PUSH_PINS).
 */
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { runJenkinsfile, stages } from './jenkins-journal.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';

const JENKINSFILE = path.resolve('Jenkinsfile.promote');
const REGION = 'us-east-1';

let cloud: LocalCloud;
let work: string;
let origin: string;
let ec2: EC2Client;
let env: Record<string, string>;
const v1: Record<string, string> = {};
const v2: Record<string, string> = {};

const git = (cwd: string, ...args: string[]) =>
  execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@e', ...args], { cwd });

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

/** An image as its build leaves it: tagged and recorded (src/tags/build-record.ts). */
const image = async (recipe: string, builtDaysAgo: number, pinned: Record<string, string>, parent?: string) => {
  const imageId = await taggedCopyOfBase(
    ec2,
    REGION,
    {
      'bake:recipe': recipe,
      'bake:fingerprint': `fp-${recipe}-${builtDaysAgo}`,
      'bake:bakery': 'promote-bakery',
      'bake:built-at': daysAgo(builtDaysAgo),
      ...Object.fromEntries(Object.entries(pinned).map(([environment, at]) => [`bake:pinned:${environment}`, at])),
      ...(parent && { 'bake:parent': parent }),
    },
    `${recipe}-${builtDaysAgo}`,
  );
  const fingerprint = `fp-${recipe}-${builtDaysAgo}`;
  await recordAsBuilt(cloud, 'promote-bakery', { recipe, fingerprint, region: REGION, imageId });
  return imageId;
};

const tfvars = (ids: Record<string, string>) =>
  `# pinned by bake\nbase_ami = {\n  us-east-1 = "${ids.base}"\n}\nweb_ami = {\n  us-east-1 = "${ids.web}"\n}\n`;

const recipe = (name: string, base: string) =>
  `name: ${name}\nbase:\n${base}\nregions: [us-east-1]\nlaunch_test: false\npin:\n` +
  ['dev', 'staging', 'prod']
    .map((e) => `  - { file: ../infra/${e}.auto.tfvars, variable: ${name}_ami, environment: ${e} }\n`)
    .join('');

beforeAll(async () => {
  const groovy = await execa('groovy', ['--version'], { reject: false });
  if (groovy.exitCode !== 0)
    throw new Error(`groovy does not run (${groovy.stderr || groovy.message}): run scripts/setup.sh --tests`);
  work = await mkdtemp(path.join(tmpdir(), 'bake-jenkins-promote-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  ec2 = new EC2Client({ region: REGION, endpoint: cloud.endpoint, credentials: cloud.credentials });
  const bin = path.join(work, 'bin');
  await mkdir(bin);
  await writeFile(path.join(bin, 'npm'), '#!/bin/sh\necho "npm $*"\n');
  await chmod(path.join(bin, 'npm'), 0o755);

  // Last week's images run in staging and prod; this week's have been in dev for two days.
  v1.base = await image('base', 10, { dev: daysAgo(9), staging: daysAgo(8), prod: daysAgo(7) });
  v1.web = await image('web', 10, { dev: daysAgo(9), staging: daysAgo(8), prod: daysAgo(7) }, v1.base);
  v2.base = await image('base', 3, { dev: daysAgo(2) });
  v2.web = await image('web', 3, { dev: daysAgo(2) }, v2.base);

  const editing = path.join(work, 'bakery');
  await mkdir(path.join(editing, 'recipes'), { recursive: true });
  await mkdir(path.join(editing, 'infra'));
  await mkdir(path.join(editing, 'bin'));
  await writeFile(
    path.join(editing, 'bin', 'bake.js'),
    `#!/usr/bin/env node\nawait import(${JSON.stringify(pathToFileURL(path.resolve('bin/bake.js')).href)});\n`,
  );
  await chmod(path.join(editing, 'bin', 'bake.js'), 0o755);
  await writeFile(
    path.join(editing, 'bake.config.yaml'),
    'bakery: promote-bakery\nregions: [us-east-1]\nencrypted: false\nenvironments: [dev, staging, prod]\n' +
      'promotion:\n  staging: { soak: 24h }\n  prod: { soak: 0s, approval: true }\n',
  );
  await writeFile(path.join(editing, 'recipes', 'base.yaml'), recipe('base', `  ami: ${baseImageId(REGION)}`));
  await writeFile(path.join(editing, 'recipes', 'web.yaml'), recipe('web', '  recipe: base'));
  await writeFile(path.join(editing, 'infra', 'dev.auto.tfvars'), tfvars(v2));
  await writeFile(path.join(editing, 'infra', 'staging.auto.tfvars'), tfvars(v1));
  await writeFile(path.join(editing, 'infra', 'prod.auto.tfvars'), tfvars(v1));
  await writeFile(path.join(editing, '.gitignore'), '.bake/\npins.diff\n*.gate\n');
  await git(editing, 'init', '-q', '-b', 'main');
  await git(editing, 'add', '-A');
  await git(editing, 'commit', '-q', '-m', 'bakery');
  origin = path.join(work, 'origin.git');
  await git(work, 'clone', '-q', '--bare', editing, origin);

  env = {
    ...(process.env as Record<string, string>),
    ...cloud.env,
    PATH: `${bin}:${process.env.PATH}`,
    JOB_NAME: 'images/promote',
    BRANCH_NAME: 'main',
    GIT_AUTHOR_NAME: 'jenkins',
    GIT_AUTHOR_EMAIL: 'jenkins@example.com',
    GIT_COMMITTER_NAME: 'jenkins',
    GIT_COMMITTER_EMAIL: 'jenkins@example.com',
  };
});

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
});

async function jenkinsBuild(number: number, params: Record<string, string | boolean>, submitter?: string) {
  const { run, steps } = await runJenkinsfile({
    jenkinsfile: JENKINSFILE,
    origin,
    work,
    number,
    params,
    env: {
      ...env,
      BUILD_URL: `https://jenkins.example/job/images/job/promote/${number}/`,
      BUILD_NUMBER: String(number),
      ...(submitter && { JENKINS_INPUT_SUBMITTER: submitter }),
    },
  });
  return { run, steps };
}

/** What origin's main pins in an environment now. */
async function pinned(environment: string): Promise<Record<string, string>> {
  const text = (await git(origin, 'show', `main:infra/${environment}.auto.tfvars`)).stdout;
  const of = (variable: string) => new RegExp(`${variable} = \\{\\s*us-east-1 = "(ami-[0-9a-f]+)"`).exec(text)?.[1];
  return { base: of('base_ami')!, web: of('web_ami')! };
}

async function tagsOf(ami: string): Promise<Record<string, string>> {
  const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }));
  return Object.fromEntries((Images[0]?.Tags ?? []).map((t) => [t.Key!, t.Value!]));
}

describe('Jenkinsfile.promote', () => {
  it('promotes staging when the soak allows, and stops at the prod input when nobody approves', async () => {
    const { run, steps } = await jenkinsBuild(1, { ACTION: 'promote', PUSH_PINS: true });
    expect(run.exitCode).toBe(1);
    expect(stages(steps)).toEqual(['Setup', 'Promote to staging', 'Promote to prod']);
    expect(steps.find((s) => s.event === 'input')).toMatchObject({ text: 'Promote to prod?', name: '' });
    expect(steps.at(-1)).toMatchObject({ event: 'result', status: 'FAILURE' });
    expect((await tagsOf(v2.base))['bake:promoted:staging']).toBeDefined();
    expect((await tagsOf(v2.base))['bake:promoted:prod']).toBeUndefined();
    expect(await pinned('prod')).toEqual(v1);
  });

  it('promotes prod once a person approves in the input step, recording the submitter, and pushes the pins', async () => {
    const { run, steps } = await jenkinsBuild(2, { ACTION: 'promote', PUSH_PINS: true }, 'alice');
    expect(run.exitCode, run.stderr).toBe(0);
    expect(stages(steps)).toEqual([
      'Setup',
      'Promote to staging',
      'Promote to prod',
      'Roll back (skipped)',
      'Revoke (skipped)',
      'Pins',
    ]);
    expect(steps.find((s) => s.event === 'input')).toMatchObject({ name: 'alice' });
    expect(await pinned('staging')).toEqual(v2);
    expect(await pinned('prod')).toEqual(v2);
    expect((await tagsOf(v2.web))['bake:promoted:prod']).toMatch(/ approved by alice$/);
  });

  it('asks nobody when prod already pins what staging pins', async () => {
    const { run, steps } = await jenkinsBuild(3, { ACTION: 'promote' });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(steps.find((s) => s.event === 'input')).toBeUndefined();
    expect(steps.find((s) => s.event === 'echo')).toMatchObject({ text: 'prod: already pins what staging pins' });
  });

  it('rolls prod back as a parameterised build', async () => {
    const { run, steps } = await jenkinsBuild(4, {
      ACTION: 'rollback',
      RECIPE: 'web',
      ENVIRONMENT: 'prod',
      PUSH_PINS: true,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(stages(steps)).toContain('Roll back');
    expect(await pinned('prod')).toEqual({ base: v2.base, web: v1.web });
  });

  it('revokes a base image as a parameterised build: its child too, every environment rolled back', async () => {
    const { run } = await jenkinsBuild(5, {
      ACTION: 'revoke',
      TARGET: v2.base,
      REASON: 'CVE-2026-0002',
      PUSH_PINS: true,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    for (const environment of ['dev', 'staging', 'prod']) expect(await pinned(environment)).toEqual(v1);
    expect(await tagsOf(v2.web)).toMatchObject({
      'bake:revoked-reason': 'CVE-2026-0002',
      'bake:revoked-by': 'https://jenkins.example/job/images/job/promote/5/',
    });
  });
});
