/**
 * The Jenkinsfile's stages for real, on one machine: scripts/jenkins-local.sh on the example
 * bakery — validate, plan, build with each recipe in its own clone (no shared disk) once its parent's image exists,
 * pin — against one shared local cloud, real Packer and Ansible. Then a commit that touches one
 * role, and the `CHANGED_SINCE` run that rebuilds exactly the recipe using it.
 *
 * Then the nightly security loop through the Jenkinsfile itself (evaluated by Groovy,
 * test/ci/run-jenkinsfile.groovy) on the same cloud and images: the bakery says `upgrade: security`
 * and `rebuild_on: [security]` as `bake init` writes it, and web carries a probe package from the
 * test's own security suite (test/scan/security-repository.ts) besides the real mirror. A fix is
 * published; a run started by hand does not scan and rebuilds nothing; the timer's run scans,
 * rebuilds exactly web, launch-tests it with nothing pending and pins it to dev.
 */
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROBE_PACKAGE,
  probeRole,
  startSecurityRepository,
  type SecurityRepository,
} from '../scan/security-repository.js';
import { readJournal, RUNNER, stages } from '../ci/jenkins-journal.js';
import { bake, EXAMPLE_BAKERY, git, repo, ROOTFS_CACHE, temporaryBakery, withLocalCloud } from './local-bakery.js';

const script = path.join(repo, 'scripts/jenkins-local.sh');
const JENKINSFILE = path.join(repo, 'Jenkinsfile');

let suite: SecurityRepository;
const stamp = Date.now();
const probeVersion = `1.${stamp}`;
const fixedVersion = `${probeVersion}+deb12u1`;
/** Set by the first test, used by the nightly one: the bakery and the kept cloud in work/cloud. */
let bakery: string | undefined;
let work: string;

beforeAll(async () => {
  suite = await startSecurityRepository();
  await suite.publish(probeVersion);
}, 60_000);

afterAll(async () => {
  await suite?.close();
});

/**
 * The example bakery as a new one would be (bake init's security defaults), with web carrying the
 * probe package, and a bin/bake.js for the Jenkinsfile's `./bin/bake.js` that runs this bake
 * attached to the test's running local cloud (`--local` for the commands that talk to it).
 */
async function securityBakery(): Promise<string> {
  const config = await readFile(path.join(repo, 'bake.config.yaml'), 'utf8');
  const web = await readFile(path.join(repo, 'recipes/web.yaml'), 'utf8');
  if (!/^roles:\n {2}- nginx\n/m.test(web)) throw new Error('recipes/web.yaml: its roles no longer start with nginx');
  const dir = await temporaryBakery('bake-jenkins-', {
    copy: repo,
    entries: EXAMPLE_BAKERY,
    files: {
      'bake.config.yaml': `${config}upgrade: security\nrebuild_on: [security]\n`,
      'recipes/web.yaml': web.replace(/^roles:\n {2}- nginx\n/m, 'roles:\n  - nginx\n  - probe\n'),
      'roles/probe/tasks/main.yml': probeRole(suite.sourceLine),
      'bin/bake.js': [
        '#!/usr/bin/env node',
        "if (['scan', 'plan', 'build', 'pin'].includes(process.argv[2])) process.argv.push('--local');",
        `await import(${JSON.stringify(pathToFileURL(path.join(repo, 'bin/bake.js')).href)});`,
        '',
      ].join('\n'),
    },
    git: false,
  });
  await chmod(path.join(dir, 'bin/bake.js'), 0o755);
  await git(dir, 'init', '-q');
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-qm', 'bakery');
  return dir;
}

interface PlanJson {
  recipes: Array<{ name: string; action: string; level?: number; reasons: string[] }>;
  changed_since?: { recipes: Record<string, string[]> };
}

async function runPipeline(bakery: string, work: string, extraEnv: Record<string, string> = {}) {
  const started = Date.now();
  const run = await execa(script, [bakery], {
    env: {
      ...process.env,
      BAKE_ROOTFS_CACHE: ROOTFS_CACHE,
      JENKINS_LOCAL_WORK: work,
      JOB_NAME: 'images/main',
      BUILD_NUMBER: '7',
      BUILD_URL: 'https://jenkins.example/job/images/7/',
      BAKE_LOCAL_APT_REPOSITORIES: suite.url,
      ...extraEnv,
    },
    reject: false,
    all: true,
  });
  const seconds = (Date.now() - started) / 1000;
  const plan = JSON.parse(await readFile(path.join(work, 'plan.json'), 'utf8')) as PlanJson;
  return { run, seconds, plan };
}

describe('scripts/jenkins-local.sh: the Jenkinsfile against the local cloud', () => {
  it('bakes each recipe on its own clone once its parent is baked, pins from tags, and with CHANGED_SINCE rebuilds only what a commit touched', async () => {
    bakery = await securityBakery();
    work = await mkdtemp(path.join(tmpdir(), 'bake-jenkins-work-'));

    const first = await runPipeline(bakery, work);
    console.log(`jenkins-local, every recipe: ${first.seconds.toFixed(1)} s`);
    expect(first.run.exitCode, first.run.all?.slice(-4000)).toBe(0);
    expect(first.plan.recipes.map((r) => [r.name, r.action, r.level])).toEqual([
      ['base', 'build', 0],
      ['web', 'build', 1],
      ['worker', 'build', 1],
    ]);
    for (const name of ['base', 'web', 'worker']) {
      expect(await readFile(path.join(work, 'reports', `${name}.xml`), 'utf8')).toMatch(/failures="0"/);
    }
    // Pinned in the pipeline's own checkout, from tags; the bakery pointed at is untouched.
    const pinDiff = await readFile(path.join(work, 'pin.diff'), 'utf8');
    expect(pinDiff).toMatch(/\+\s*us-east-1 = "ami-[0-9a-f]+" # replaced by bake pin/);
    expect((await git(bakery, 'status', '--porcelain')).stdout).toBe('');

    // The images carry Jenkins' metadata (read back through the EC2 API from the kept cloud state).
    await withLocalCloud(path.join(work, 'cloud', '.bake', 'local'), async (ec2) => {
      const { Images = [] } = await ec2.send(
        new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:bake:recipe', Values: ['web'] }] }),
      );
      const tags = Object.fromEntries((Images[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({
        'bake:job': 'images/main',
        'bake:build-url': 'https://jenkins.example/job/images/7/',
      });
    });

    // What PUSH_PINS does in Jenkins: the pinned tfvars are committed.
    await git(bakery, 'apply', path.join(work, 'pin.diff'));
    await git(bakery, 'commit', '-qam', 'bake: pin AMIs from build 7');

    // A commit touches node_exporter, which web and worker use (base does not).
    const before = (await git(bakery, 'rev-parse', 'HEAD')).stdout.trim();
    await appendFile(path.join(bakery, 'roles/node_exporter/defaults/main.yml'), '# scrape interval reviewed\n');
    await git(bakery, 'commit', '-qam', 'node_exporter: note');
    const second = await runPipeline(bakery, work, {
      CHANGED_SINCE: before,
      BUILD_NUMBER: '8',
      BUILD_URL: 'https://jenkins.example/job/images/8/',
    });
    console.log(`jenkins-local, CHANGED_SINCE with one role changed: ${second.seconds.toFixed(1)} s`);
    expect(second.run.exitCode, second.run.all?.slice(-4000)).toBe(0);
    expect(second.plan.changed_since?.recipes).toEqual({
      web: ['roles changed: node_exporter'],
      worker: ['roles changed: node_exporter'],
    });
    // base is untouched and its image exists: web and worker both start at once.
    expect(second.plan.recipes.map((r) => [r.name, r.action, r.level])).toEqual([
      ['web', 'build', 0],
      ['worker', 'build', 0],
    ]);
    expect(existsSync(path.join(work, 'reports', 'web.xml'))).toBe(true);
    expect(existsSync(path.join(work, 'reports', 'worker.xml'))).toBe(true);
    expect(existsSync(path.join(work, 'reports', 'base.xml'))).toBe(false);
    const secondDiff = await readFile(path.join(work, 'pin.diff'), 'utf8');
    expect(secondDiff).toContain('infra/web/');
    expect(secondDiff).toContain('infra/worker/');
    expect(secondDiff).not.toContain('infra/shared/');
  });

  it('every night the Jenkinsfile scans, rebuilds exactly the recipe with a fix pending, launch-tests it with nothing pending and pins it; a run by hand does not scan', async () => {
    if (!bakery) throw new Error('needs the images of the test before it');
    const sourceRepo = bakery;
    // What PUSH_PINS does: the CHANGED_SINCE run's pins are committed, so the runs below start pinned.
    await git(bakery, 'apply', path.join(work, 'pin.diff'));
    await git(bakery, 'commit', '-qam', 'bake: pin AMIs from build 8');
    await suite.publish(fixedVersion);
    const cloud = await startSharedCloud();
    try {
      // Started by hand: no scan, so the fix pending on web is not seen and nothing is built.
      const byHand = await jenkinsBuild(cloud, sourceRepo, 9, 'UserIdCause');
      expect(byHand.run.exitCode, byHand.run.all?.slice(-4000)).toBe(0);
      expect(stages(byHand.steps)).toEqual([
        'Setup',
        'Validate',
        'Security scan (skipped)',
        'Plan',
        'Build (skipped)',
        'Pin',
      ]);
      expect(byHand.steps.filter((s) => s.event === 'sh' && s.script!.includes(' scan '))).toEqual([]);
      expect(existsSync(path.join(byHand.dir, 'workspace/scan.json'))).toBe(false);
      expect(Object.values(actions(byHand.plan))).toEqual(['reuse', 'reuse', 'reuse']);

      // The nightly timer's run.
      const nightly = await jenkinsBuild(cloud, sourceRepo, 10, 'TimerTrigger');
      console.log(`jenkins nightly security loop (scan 3 images, rebuild web, pin): ${nightly.seconds.toFixed(1)} s`);
      expect(nightly.run.exitCode, nightly.run.all?.slice(-4000)).toBe(0);
      expect(nightly.steps.at(-1)).toEqual({ event: 'result', status: 'SUCCESS' });
      expect(stages(nightly.steps)).toEqual(['Setup', 'Validate', 'Security scan', 'Plan', 'Build', 'Pin']);

      const scanStep = nightly.steps.find((s) => s.event === 'sh' && s.script!.includes(' scan '))!;
      expect(nightly.steps.find((s) => s.event === 'archive' && s.files?.includes('scan.json'))).toBeDefined();
      const scan = JSON.parse(await readFile(path.join(nightly.dir, 'workspace/scan.json'), 'utf8')) as ScanJson;
      const scanned = Object.fromEntries(scan.images.map((image) => [image.recipe, image]));
      expect(Object.keys(scanned).sort()).toEqual(['base', 'web', 'worker']);
      for (const image of scan.images) expect(image.status, image.recipe).toBe('scanned');
      expect(scanned.web!.pending).toContainEqual({
        package: PROBE_PACKAGE,
        installed: probeVersion,
        fixed: fixedVersion,
      });
      // base and worker were built with upgrade: security and carry no probe: nothing pending.
      expect(scanned.base!.pending, 'the real bookworm-security published a fix during the test').toEqual([]);
      expect(scanned.worker!.pending).toEqual([]);
      const perImage = scan.images.map((image) => image.duration_s);
      console.log(
        `nightly scan: ${scan.images.length} images in ${(scanStep.ms! / 1000).toFixed(1)} s (the stage, bake's start included; ` +
          `${((scan.images.length * 60_000) / scanStep.ms!).toFixed(1)} images/min at the default concurrency); per image ${perImage.join(', ')} s`,
      );

      // Exactly web is rebuilt, for the fix, and its parent and sibling are reused.
      expect(actions(nightly.plan)).toEqual({ base: 'reuse', web: 'build', worker: 'reuse' });
      const webPlan = nightly.plan.recipes.find((r) => r.name === 'web')!;
      expect(webPlan.reasons.join('\n')).toMatch(
        new RegExp(
          `^security updates pending since \\S+: .*${PROBE_PACKAGE} ${probeVersion.replace('.', '\\.')} → `,
          'm',
        ),
      );
      expect(nightly.steps.find((s) => s.event === 'parallel')?.branches).toEqual(['web']);

      // Launch-tested with the check that no security update is left pending.
      // (Jenkins' JUnit page and the published report: the image's, the launch test's and the copies' runs each write their own files.)
      const junit = nightly.steps.find((s) => s.event === 'junit')!;
      expect(junit.files).toEqual(['reports/distribute/web.xml', 'reports/image/web.xml', 'reports/web.xml']);
      expect(junit.cases).toContainEqual({ name: 'no pending security update (upgrade: security)', failed: false });
      expect(junit.cases?.filter((c) => c.failed)).toEqual([]);
      const published = nightly.steps.find((s) => s.event === 'publishHTML' && s.name === 'bake build web')!;
      expect(await readFile(path.join(nightly.dir, published.file!), 'utf8')).toContain('no pending security update');

      // Pinned to dev (the first environment); staging and prod are bake promote's, after their soak.
      const pinDiff = await readFile(path.join(nightly.dir, 'workspace/pin.diff'), 'utf8');
      expect(pinDiff).toContain('infra/web/amis.auto.tfvars');
      for (const other of ['infra/shared/', 'infra/worker/', 'infra/staging/', 'infra/prod/'])
        expect(pinDiff).not.toContain(other);
      const pinned = /^\+\s*us-east-1 = "(ami-[0-9a-f]+)"/m.exec(pinDiff)?.[1];
      expect(pinned).toBeDefined();
      expect(pinned).not.toBe(scanned.web!.image);

      await cloud.stop();
      const tags = await withLocalCloud(path.join(work, 'cloud', '.bake', 'local'), async (ec2) => {
        const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [pinned!, scanned.web!.image] }));
        return Object.fromEntries(
          Images.map((image) => [image.ImageId!, Object.fromEntries((image.Tags ?? []).map((t) => [t.Key, t.Value]))]),
        );
      });
      // The new image's first scan is its launch test's: nothing pending, so the next night reuses it.
      expect(tags[pinned!]).toMatchObject({ 'bake:launch-test': 'passed', 'bake:scan-pending': '0' });
      expect(tags[pinned!]?.['bake:build-url']).toBe('https://jenkins.example/job/images/job/main/10/');
      expect(Number(tags[scanned.web!.image]?.['bake:scan-pending'])).toBeGreaterThan(0);
    } finally {
      await cloud.stop();
    }
  });
});

interface ScanJson {
  images: Array<{
    recipe: string;
    image: string;
    status: string;
    pending: Array<{ package: string; installed: string; fixed: string }>;
    duration_s: number;
  }>;
}

const actions = (plan: PlanJson) => Object.fromEntries(plan.recipes.map((r) => [r.name, r.action]));

interface SharedCloud {
  envFile: string;
  stop(): Promise<void>;
}

/** `bake local-cloud` on the kept cloud of the runs above: the AWS account every "agent" of the Groovy runs shares. */
async function startSharedCloud(): Promise<SharedCloud> {
  const envFile = path.join(work, 'groovy-cloud.env');
  const server = execa('node', [bake, 'local-cloud', '--dir', path.join(work, 'cloud'), '--write-env', envFile], {
    env: { ...process.env, BAKE_ROOTFS_CACHE: ROOTFS_CACHE, BAKE_LOCAL_APT_REPOSITORIES: suite.url },
    reject: false,
    all: true,
  });
  for (let waited = 0; !existsSync(envFile); waited += 100) {
    if (server.exitCode !== null || waited > 120_000) throw new Error(`bake local-cloud did not start: ${server.all}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let stopped: Promise<void> | undefined;
  return {
    envFile,
    stop: () =>
      (stopped ??= (async () => {
        server.kill('SIGINT');
        await server;
      })()),
  };
}

/** One Jenkins build of the bakery's HEAD by the Jenkinsfile itself, started by `cause`, on the shared cloud. */
async function jenkinsBuild(cloud: SharedCloud, sourceRepo: string, number: number, cause: string) {
  const dir = path.join(work, `groovy-${number}`);
  const journal = path.join(work, `groovy-${number}.ndjson`);
  const bin = path.join(work, 'groovy-bin');
  await mkdir(bin, { recursive: true });
  // The agents run `npm ci`: bake is already built here, so that step only has to succeed.
  await writeFile(path.join(bin, 'npm'), '#!/bin/sh\necho "npm $*"\n', { mode: 0o755 });
  const started = Date.now();
  const run = await execa(
    'bash',
    ['-c', '. "$0" && exec groovy "$@"', cloud.envFile, RUNNER, JENKINSFILE, sourceRepo, dir, journal],
    {
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        RUN_JENKINSFILE_CAUSE: cause,
        JOB_NAME: 'images/main',
        BRANCH_NAME: 'main',
        BUILD_NUMBER: String(number),
        BUILD_URL: `https://jenkins.example/job/images/job/main/${number}/`,
      },
      reject: false,
      all: true,
    },
  );
  const seconds = (Date.now() - started) / 1000;
  const steps = await readJournal(journal);
  const plan = JSON.parse(await readFile(path.join(dir, 'workspace/plan.json'), 'utf8')) as PlanJson;
  return { run, steps, dir, plan, seconds };
}
