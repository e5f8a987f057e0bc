/**
 * `bake build` as Jenkins runs it: the built CLI (bin/bake.js → dist, built by `npm test`), a
 * stand-in `packer` first on PATH, bake's local EC2-compatible cloud behind --endpoint.
 */
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeleteTagsCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { inChromium, nodesIn } from '../report/chromium.js';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { readPackerJournal } from './packer-journal.js';

const bake = path.resolve('bin/bake.js');
const fixture = path.resolve('test/fixtures/pipeline/cli-bakery');

let cloud: LocalCloud;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-cli-build-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  const bin = path.join(work, 'bin');
  await mkdir(bin);
  await symlink(path.resolve('test/fixtures/pipeline/fake-packer.mjs'), path.join(bin, 'packer'));
});

afterAll(async () => {
  await cloud?.close();
});

async function bakery(name: string, script: Record<string, unknown>) {
  const dir = path.join(work, name);
  await cp(fixture, dir, { recursive: true });
  await writeFile(path.join(dir, 'fake-packer.json'), JSON.stringify(script));
  const env = {
    ...cloud.env,
    PATH: `${path.join(work, 'bin')}:${process.env.PATH}`,
    CI: 'true',
    BUILD_URL: 'https://jenkins.example/job/bake/7/',
    GIT_COMMIT: 'c0ffee0000000000000000000000000000000000',
    FAKE_PACKER_SCRIPT: path.join(dir, 'fake-packer.json'),
    FAKE_PACKER_JOURNAL: path.join(dir, 'journal.ndjson'),
  };
  const journal = () => readPackerJournal(env.FAKE_PACKER_JOURNAL);
  return { dir, env, journal };
}

describe('bake build (CLI)', () => {
  it('builds parent then child, pins both, prints JSON and writes JUnit; a second run reuses both', async () => {
    const { dir, env, journal } = await bakery('ok', {});
    const junit = path.join(dir, 'junit.xml');
    const html = path.join(dir, 'reports', 'build.html');
    const run = await execa(
      'node',
      [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json', '--junit', junit, '--report', html],
      { env, reject: false },
    );
    expect(run.stderr).not.toContain('internal error');
    expect(run.exitCode).toBe(0);
    const report = parseJsonOutput('build', run.stdout);
    expect(report.recipes.map((r: { name: string; status: string }) => `${r.name} ${r.status}`)).toEqual([
      'base built',
      'web built',
    ]);
    const tfvars = await readFile(path.join(dir, 'infra', 'amis.auto.tfvars'), 'utf8');
    expect(tfvars).toContain(report.recipes[0].amis['us-east-1']);
    expect(tfvars).toContain(report.recipes[1].amis['us-east-1']);
    const suite = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
      await readFile(junit, 'utf8'),
    ).testsuites.testsuite;
    expect(suite).toMatchObject({ name: 'bake build', tests: '2', failures: '0' });
    // The HTML report, as a browser renders it: both recipes in the graph and on the timeline, the tfvars diff.
    const { dom } = await inChromium(html);
    expect(nodesIn(dom)).toEqual(['base:built', 'web:built']);
    expect([...dom.matchAll(/<div class="lane" data-recipe="(\w+)">/g)].map((m) => m[1])).toEqual(['base', 'web']);
    expect(dom).toMatch(new RegExp(`<span class="add">\\+[^<]*"${report.recipes[1].amis['us-east-1']}"`));

    const again = await execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json'], {
      env,
      reject: false,
    });
    expect(again.exitCode).toBe(0);
    expect(parseJsonOutput('build', again.stdout).recipes.map((r: { status: string }) => r.status)).toEqual([
      'reused',
      'reused',
    ]);

    // Sharing is applied to the existing image: no Packer run, the same AMI, the child untouched.
    const packerRuns = journal().length;
    await appendFile(path.join(dir, 'recipes', 'base.yaml'), 'share_with: ["123456789012"]\n');
    const shared = await execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json'], {
      env,
      reject: false,
    });
    expect(shared.stderr).toContain('base: build (share_with changed on');
    expect(shared.stderr).toContain('base: distributing\n');
    expect(shared.exitCode).toBe(0);
    const after = parseJsonOutput('build', shared.stdout).recipes as Array<{
      name: string;
      status: string;
      amis: Record<string, string>;
      reasons: string[];
    }>;
    expect(after.map((r) => [r.name, r.status, r.amis])).toEqual([
      ['base', 'built', report.recipes[0].amis],
      ['web', 'reused', report.recipes[1].amis],
    ]);
    expect(after[0].reasons).toEqual([
      `share_with changed on ${report.recipes[0].amis['us-east-1']} in us-east-1: applying them (no new bake)`,
    ]);
    expect(journal().length).toBe(packerRuns);
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
    const launch = await ec2.send(
      new DescribeImageAttributeCommand({
        ImageId: report.recipes[0].amis['us-east-1'],
        Attribute: 'launchPermission',
      }),
    );
    ec2.destroy();
    expect(launch.LaunchPermissions).toEqual([{ UserId: '123456789012' }]);
    const settled = await execa(
      'node',
      [bake, 'plan', '--dir', dir, '--endpoint', cloud.endpoint, '--detailed-exitcode'],
      { env, reject: false },
    );
    expect(settled.exitCode).toBe(0);
  });

  it('on SIGINT interrupts packer, pins nothing and exits 1 with what was done', async () => {
    const { dir, env, journal } = await bakery('interrupted', { base: { hang: true } });
    // --force: the first test already baked these same recipes into this cloud, so a plain run would reuse them.
    const run = execa('node', [bake, 'build', '--force', '--dir', dir, '--endpoint', cloud.endpoint, '--json'], {
      env,
      reject: false,
    });
    const startedBy = Date.now() + 60_000;
    while (!journal().some((e) => e.recipe === 'base' && e.event === 'start')) {
      if (Date.now() > startedBy) throw new Error(`packer never started: ${(await run.catch((e) => e)).stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    run.kill('SIGINT');
    const result = await run;
    expect(result.exitCode).toBe(1);
    const report = parseJsonOutput('build', result.stdout);
    expect(report.interrupted).toBe(true);
    expect(report.recipes.map((r: { status: string }) => r.status)).toEqual(['aborted', 'aborted']);
    expect(journal().map((e) => `${e.recipe} ${e.event}`)).toEqual(['base start', 'base interrupt']);
    expect(() => process.kill(journal()[0].pid, 0)).toThrow();
    expect(existsSync(path.join(dir, 'infra', 'amis.auto.tfvars'))).toBe(false);
    expect(result.stderr).toContain('SIGINT received');
  });
});

describe('bake build --changed-since', () => {
  it('bakes and pins only the recipes whose inputs changed since the ref, and nothing when none did', async () => {
    const { dir, env, journal } = await bakery('changed', {});
    const git = (...args: string[]) =>
      execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@e', ...args], { cwd: dir });
    // New fingerprints for this test: the first test baked the fixture as it is.
    await appendFile(path.join(dir, 'recipes', 'base.yaml'), 'instance_type: t3.large\n');
    await git('init', '-q', '-b', 'main');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'bakery');
    const build = (...args: string[]) =>
      execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json', ...args], {
        env,
        reject: false,
      });
    expect((await build()).exitCode).toBe(0);

    await appendFile(path.join(dir, 'recipes', 'web.yaml'), 'instance_type: t3.xlarge\n');
    await git('commit', '-q', '-am', 'web: bigger');
    const before = journal().length;
    const run = await build('--changed-since', 'HEAD~1');
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain('changed since HEAD~1');
    const report = parseJsonOutput('build', run.stdout);
    expect(report.recipes.map((r: { name: string; status: string }) => [r.name, r.status])).toEqual([['web', 'built']]);
    expect(
      journal()
        .slice(before)
        .filter((e) => e.event === 'start')
        .map((e) => e.recipe),
    ).toEqual(['web']);
    expect(await readFile(path.join(dir, 'infra', 'amis.auto.tfvars'), 'utf8')).toContain(
      report.recipes[0].amis['us-east-1'],
    );

    const nothing = await build('--changed-since', 'HEAD');
    expect(nothing.exitCode).toBe(0);
    expect(parseJsonOutput('build', nothing.stdout)).toMatchObject({
      recipes: [],
      pin: { status: 'skipped', reason: 'no recipe to build' },
    });
    expect(nothing.stderr).toContain('no recipe');
  });
});

/** Resolves once the running process has written `text` to stderr. */
function stderrContains(run: ReturnType<typeof execa>, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    run.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) resolve();
    });
    run.once('exit', () => reject(new Error(`exited before saying ${JSON.stringify(text)}: ${seen}`)));
  });
}

describe('bake build on two agents at once (the EC2 build lock)', () => {
  it('bakes each recipe once: the second job fails at once by default, or waits and reuses with --lock-wait', async () => {
    // Two agents, no shared disk: two checkouts of the same commit, one EC2 account.
    // A's base bake lasts until B has failed once and is waiting: however loaded the machine, B meets the lock.
    const baseMayFinish = path.join(work, 'base-may-finish');
    const a = await bakery('agent-a', { base: { holdUntil: baseMayFinish }, web: { sleepMs: 1500 } });
    const b = await bakery('agent-b', { base: { holdUntil: baseMayFinish }, web: { sleepMs: 1500 } });
    for (const dir of [a.dir, b.dir]) {
      // A recipe change both checkouts share, so this test's fingerprints are new to the cloud.
      const file = path.join(dir, 'recipes', 'base.yaml');
      await writeFile(file, `${await readFile(file, 'utf8')}instance_type: t3.medium\n`);
    }
    const journalFile = a.env.FAKE_PACKER_JOURNAL;
    const envA = { ...a.env, BUILD_URL: 'https://jenkins.example/job/images/41/' };
    const envB = {
      ...b.env,
      BUILD_URL: 'https://jenkins.example/job/images-hotfix/7/',
      FAKE_PACKER_JOURNAL: journalFile,
    };
    const build = (dir: string, env: Record<string, string>, ...args: string[]) =>
      execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json', ...args], {
        env,
        reject: false,
      });

    const first = build(a.dir, envA);
    const startedBy = Date.now() + 60_000;
    while (!a.journal().some((e) => e.recipe === 'base' && e.event === 'start')) {
      if (Date.now() > startedBy) throw new Error(`packer never started: ${(await first).stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const impatient = await build(b.dir, envB);
    expect(impatient.exitCode, impatient.stderr + impatient.stdout).toBe(1);
    expect(impatient.stderr).toContain('base is already being built by https://jenkins.example/job/images/41/');
    expect(impatient.stderr).toContain('pass --lock-wait DURATION to wait for it');
    expect(parseJsonOutput('build', impatient.stdout).recipes.map((r: { status: string }) => r.status)).toEqual([
      'failed',
      'skipped',
    ]);

    const waiting = build(b.dir, envB, '--lock-wait', '10m');
    await stderrContains(waiting, 'waiting up to 10m');
    await writeFile(baseMayFinish, '');
    const patient = await waiting;
    const done = await first;
    expect(done.exitCode).toBe(0);
    expect(patient.exitCode).toBe(0);
    const builtByA = parseJsonOutput('build', done.stdout).recipes;
    const reusedByB = parseJsonOutput('build', patient.stdout).recipes;
    expect(builtByA.map((r: { status: string }) => r.status)).toEqual(['built', 'built']);
    expect(
      reusedByB.map((r: { name: string; status: string; amis: Record<string, string> }) => [r.name, r.status, r.amis]),
    ).toEqual(builtByA.map((r: { name: string; amis: Record<string, string> }) => [r.name, 'reused', r.amis]));
    expect(patient.stderr).toMatch(
      /already being built by https:\/\/jenkins\.example\/job\/images\/41\/ .*: waiting up to 10m/,
    );
    // One Packer run per recipe across both jobs.
    const starts = a
      .journal()
      .filter((e) => e.event === 'start')
      .map((e) => e.recipe);
    expect(starts).toEqual(['base', 'web']);
  }, 600_000);

  it('reuses, never re-reports as built, an image whose holder was between baking and distributing when this job planned', async () => {
    // The race of issue #17 (10): under load the waiting job planned after the first job tagged its image but before it
    // had applied its distribution settings, planned "distribute only", and later reported the first job's AMI as `built`.
    const a = await bakery('window-a', {});
    const b = await bakery('window-b', {});
    for (const dir of [a.dir, b.dir]) {
      const file = path.join(dir, 'recipes', 'base.yaml');
      await writeFile(file, `${await readFile(file, 'utf8')}instance_type: t3.large\n`);
    }
    const build = (dir: string, env: Record<string, string>, ...args: string[]) =>
      execa('node', [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--json', ...args], {
        env,
        reject: false,
      });
    const first = await build(a.dir, a.env);
    expect(first.exitCode, first.stderr).toBe(0);
    const baseAmi = parseJsonOutput('build', first.stdout).recipes[0].amis['us-east-1'] as string;

    // Put the first job back into that window: its image tagged but not yet settled, its lock held.
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
    const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [baseAmi] }))).Images!;
    const distribution = image.Tags!.find((t) => t.Key === 'bake:distribution')!;
    await ec2.send(new DeleteTagsCommand({ Resources: [baseAmi], Tags: [{ Key: 'bake:distribution' }] }));
    const lock = await ec2.send(
      new CreateKeyPairCommand({
        KeyName: 'bake-lock-base@cli-bakery',
        TagSpecifications: [
          {
            ResourceType: 'key-pair',
            Tags: [
              { Key: 'bake:lock', Value: 'base' },
              { Key: 'bake:lock-holder', Value: 'https://jenkins.example/job/images/42/' },
            ],
          },
        ],
      }),
    );

    const waiting = build(b.dir, b.env, '--lock-wait', '10m');
    await stderrContains(waiting, 'waiting up to 10m');
    // The first job finishes distributing and lets go.
    await ec2.send(new CreateTagsCommand({ Resources: [baseAmi], Tags: [distribution] }));
    await ec2.send(new DeleteKeyPairCommand({ KeyPairId: lock.KeyPairId }));
    ec2.destroy();

    const second = await waiting;
    expect(second.exitCode, second.stderr).toBe(0);
    const recipes = parseJsonOutput('build', second.stdout).recipes as Array<{
      name: string;
      status: string;
      amis: Record<string, string>;
      reasons: string[];
    }>;
    expect(recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'reused'],
      ['web', 'reused'],
    ]);
    expect(recipes[0].amis).toEqual({ 'us-east-1': baseAmi });
    expect(recipes[0].reasons).toContain('baked meanwhile by another job');
    expect(b.journal()).toEqual([]);
  }, 600_000);
});

describe('bake build --launch-test later', () => {
  it('is refused without --no-distribute (an untested image is never copied, shared or pinned), before anything is baked', async () => {
    const { dir, env, journal } = await bakery('launch-test-later', {});
    const run = await execa(
      'node',
      [bake, 'build', '--dir', dir, '--endpoint', cloud.endpoint, '--launch-test', 'later'],
      {
        env,
        reject: false,
      },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim()).toBe(
      '--launch-test later needs --no-distribute: an untested image is never copied, shared or pinned',
    );
    expect(journal()).toEqual([]);
    const wrong = await execa('node', [bake, 'build', '--dir', dir, '--launch-test', 'someday'], {
      env,
      reject: false,
    });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain("argument 'someday' is invalid");
  });
});
