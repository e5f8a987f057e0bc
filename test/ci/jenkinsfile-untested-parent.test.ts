/**
 * The Jenkinsfile's per-parent branches start on the parent's finished image while the parent's
 * launch test runs (issue 31 item 3), run by Groovy (test/ci/run-jenkinsfile.groovy) against the
 * local cloud: bake's real launch test over HTTP (RunInstances, waits, TerminateInstances) with
 * the stand-in `ssh` (test/fixtures/pipeline/fake-ssh.mjs) answering cloud-init, and the stand-in
 * `packer`. The stand-in cloud-init of base waits until web's Packer has started: a run in which
 * web started only after base's launch test would fail base's test instead of passing.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type InstanceHost, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { git, groovyRuns, jenkinsBakery } from './jenkins-bakery.js';
import { runJenkinsfile, stages, type JenkinsStep } from './jenkins-journal.js';

const JENKINSFILE = path.resolve('Jenkinsfile');
const fixture = path.resolve('test/fixtures/pipeline/cli-bakery');

let cloud: LocalCloud;
let ec2: EC2Client;
let work: string;
let origin: string;
let editing: string;
let env: Record<string, string>;

/** Launches nothing, but gives each test instance its own address: the stand-in ssh finds the instance by it. */
function paperInstances(): InstanceHost {
  let next = 10;
  return { ...noInstances, launch: async () => ({ ip: `127.0.0.${next++}`, sshPort: 22 }) };
}

beforeAll(async () => {
  await groovyRuns();
  work = await mkdtemp(path.join(tmpdir(), 'bake-jenkins-untested-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: paperInstances() });
  ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: cloud.credentials });
  let bin: string;
  // base → web → app, each launch-tested; tools on its own, not.
  ({ editing, origin, bin } = await jenkinsBakery(
    work,
    fixture,
    { packer: 'test/fixtures/pipeline/fake-packer.mjs', ssh: 'test/fixtures/pipeline/fake-ssh.mjs' },
    async (dir) => {
      for (const name of ['base', 'web']) {
        const file = path.join(dir, 'recipes', `${name}.yaml`);
        await writeFile(file, (await readFile(file, 'utf8')).replace(/^launch_test: false\n/m, ''));
      }
      await writeFile(
        path.join(dir, 'recipes', 'app.yaml'),
        'name: app\ndescription: built from web\nbase:\n  recipe: web\nregions: [us-east-1]\npin:\n  - file: ../infra/amis.auto.tfvars\n    variable: app_ami\n',
      );
      await writeFile(
        path.join(dir, 'recipes', 'tools.yaml'),
        'name: tools\ndescription: independent of base\nbase:\n  ssm: /aws/service/debian/release/12/latest/amd64\nregions: [us-east-1]\nlaunch_test: false\n',
      );
    },
  ));

  env = {
    ...(process.env as Record<string, string>),
    ...cloud.env,
    PATH: `${bin}:${process.env.PATH}`,
    FAKE_PACKER_SCRIPT: path.join(work, 'fake-packer.json'),
    FAKE_SSH_SCRIPT: path.join(work, 'fake-ssh.json'),
    JOB_NAME: 'images/main',
    BRANCH_NAME: 'main',
  };
});

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
});

interface Event {
  recipe: string;
  event: string;
  image?: string;
}

/** One Jenkins build with these stand-in scripts; its steps and the Packer/ssh journal. */
async function jenkinsBuild(number: number, packer: object, ssh: object) {
  await writeFile(path.join(work, 'fake-packer.json'), JSON.stringify(packer));
  await writeFile(path.join(work, 'fake-ssh.json'), JSON.stringify(ssh));
  const journal = path.join(work, `journal-${number}.ndjson`);
  const build = await runJenkinsfile({
    jenkinsfile: JENKINSFILE,
    origin,
    work,
    number,
    env: {
      ...env,
      FAKE_PACKER_JOURNAL: journal,
      BUILD_URL: `https://jenkins.example/job/images/job/main/${number}/`,
      BUILD_NUMBER: String(number),
    },
  });
  const events = (await readFile(journal, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Event);
  return { ...build, events };
}

const index = (events: Event[], recipe: string, event: string) =>
  events.findIndex((e) => e.recipe === recipe && e.event === event);

const junitOf = (steps: JenkinsStep[]) =>
  steps
    .filter((s) => s.event === 'junit')
    .flatMap((s) => s.cases ?? [])
    .map((c) => `${c.name}${c.failed ? ' failed' : ''}`)
    .sort();

async function imagesOf(recipe: string) {
  const { Images = [] } = await ec2.send(
    new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:bake:recipe', Values: [recipe] }] }),
  );
  return Images.map((image) => ({
    id: image.ImageId!,
    launchTest: image.Tags?.find((t) => t.Key === 'bake:launch-test')?.Value,
  }));
}

// Whole Jenkins builds (a bake process per step and agent): minutes on a loaded machine.
describe('the Jenkinsfile: a child on its parent image during the launch test', { timeout: 600_000 }, () => {
  it("starts web's bake on base's image before base's launch test ended, and pins everything once all passed", async () => {
    const { run, steps, events, dir } = await jenkinsBuild(1, {}, { base: { waitForPacker: 'web' } });
    expect(run.stderr).not.toContain('FAILURE');
    expect(steps.at(-1)).toEqual({ event: 'result', status: 'SUCCESS' });
    expect(stages(steps)).toEqual(['Setup', 'Validate', 'Security scan (skipped)', 'Plan', 'Build', 'Pin']);

    // base's image, then web's Packer on it, while base's launch test (its cloud-init) was still running.
    expect(index(events, 'base', 'end')).toBeLessThan(index(events, 'web', 'start'));
    expect(index(events, 'web', 'start')).toBeLessThan(index(events, 'base', 'cloud-init end'));
    const baseImage = events.find((e) => e.recipe === 'base' && e.event === 'cloud-init start')!.image;
    expect(events.find((e) => e.recipe === 'web' && e.event === 'start')).toMatchObject({ source_ami: baseImage });
    // web's own launch test only after base's passed; app after web's.
    expect(index(events, 'base', 'cloud-init end')).toBeLessThan(index(events, 'web', 'cloud-init start'));
    expect(index(events, 'web', 'cloud-init end')).toBeLessThan(index(events, 'app', 'cloud-init start'));

    // Each branch: the image, its launch test (with its cloud-init case), its copies; every case passed.
    expect(junitOf(steps)).toEqual([
      'app',
      'app',
      'app',
      'base',
      'base',
      'base',
      'cloud-init',
      'cloud-init',
      'cloud-init',
      'tools',
      'tools',
      'tools',
      'web',
      'web',
      'web',
    ]);
    for (const recipe of ['base', 'web', 'app'])
      expect((await imagesOf(recipe)).map((i) => i.launchTest)).toEqual(['passed']);
    const tfvars = await readFile(path.join(dir, 'workspace', 'infra', 'amis.auto.tfvars'), 'utf8');
    for (const variable of ['base_ami', 'web_ami', 'app_ami'])
      expect(tfvars).toMatch(new RegExp(`${variable} = \\{\\n\\s+us-east-1 = "ami-\\w+"`));
  });

  it("stops web's bake when base fails its launch test: Packer interrupted, no image of web, app skipped, tools built, nothing pinned", async () => {
    // A new commit: every recipe's fingerprint changes, so everything is baked again.
    for (const name of ['base', 'tools']) {
      const file = path.join(editing, 'recipes', `${name}.yaml`);
      await writeFile(file, `${await readFile(file, 'utf8')}instance_type: t3.large\n`);
    }
    await git(editing, 'commit', '-q', '-am', 'larger');
    await git(editing, 'push', '-q', 'origin', 'main');
    const webBefore = (await imagesOf('web')).map((i) => i.id);

    const { run, steps, events } = await jenkinsBuild(
      2,
      { web: { hang: true } },
      { base: { waitForPacker: 'web', fail: true } },
    );
    expect(run.exitCode).toBe(1);
    expect(steps.at(-1)).toMatchObject({ event: 'result', status: 'FAILURE' });
    expect(stages(steps)).toEqual(['Setup', 'Validate', 'Security scan (skipped)', 'Plan', 'Build']);
    expect(steps.at(-1)!.error).toMatch(/parallel branches failed: .*base:/);
    expect(steps.at(-1)!.error).toMatch(/web:/);

    // web's Packer started on base's image during base's launch test, and was interrupted after it failed.
    expect(index(events, 'web', 'start')).toBeLessThan(index(events, 'base', 'cloud-init end'));
    expect(index(events, 'base', 'cloud-init end')).toBeLessThan(index(events, 'web', 'interrupt'));
    // No image of web from this run; base's stays, tagged failed; app never started; tools built.
    expect((await imagesOf('web')).map((i) => i.id)).toEqual(webBefore);
    expect((await imagesOf('base')).map((i) => i.launchTest).sort()).toEqual(['failed', 'passed']);
    expect(index(events, 'app', 'start')).toBe(-1);
    expect(steps.find((s) => s.event === 'echo' && s.text === 'app: skipped, parent web failed')).toBeDefined();
    // JUnit: base's image case passed and its launch test failed; web reported skipped (not failed); tools passed.
    expect(junitOf(steps)).toEqual(['base', 'base failed', 'cloud-init failed', 'tools', 'tools', 'tools', 'web']);
    const webLog = await readFile(path.join(dir(steps, 'web'), 'reports', 'image', 'web.xml'), 'utf8');
    expect(webLog).toContain('parent base failed its launch test');
  });
});

/** The workspace of a recipe's agent (from its JUnit step). */
function dir(steps: JenkinsStep[], recipe: string): string {
  const junit = steps.find((s) => s.event === 'junit' && s.cases?.some((c) => c.name === recipe));
  return path.join(work, 'build-2', junit!.workspace!);
}
