/**
 * The repository's Jenkinsfile itself, evaluated by Groovy (test/ci/run-jenkinsfile.groovy plays
 * Jenkins' steps; `sh` runs for real): its stages run bake's commands against the local cloud's
 * EC2 API, with the stand-in packer, in a fresh clone per agent. What is checked is what a
 * Jenkins user sees: stages, waves, agents, JUnit results, archived files, the pushed pins.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { git, groovyRuns, jenkinsBakery } from './jenkins-bakery.js';
import { runJenkinsfile, stages, type JenkinsStep } from './jenkins-journal.js';

const JENKINSFILE = path.resolve('Jenkinsfile');
const fixture = path.resolve('test/fixtures/pipeline/cli-bakery');

let cloud: LocalCloud;
let work: string;
let origin: string;
let editing: string;
let env: Record<string, string>;

beforeAll(async () => {
  await groovyRuns();
  work = await mkdtemp(path.join(tmpdir(), 'bake-jenkinsfile-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
  let bin: string;
  ({ editing, origin, bin } = await jenkinsBakery(
    work,
    fixture,
    { packer: 'test/fixtures/pipeline/fake-packer.mjs' },
    // An independent recipe whose bake cannot end before web's has begun (the stand-in Packer's
    // waitFor): built in waves (base and tools, then web) the run would never finish.
    (dir) =>
      writeFile(
        path.join(dir, 'recipes', 'tools.yaml'),
        'name: tools\ndescription: independent of base\nbase:\n  ssm: /aws/service/debian/release/12/latest/amd64\nregions: [us-east-1]\nlaunch_test: false\n',
      ),
  ));

  await writeFile(path.join(work, 'fake-packer.json'), '{}');
  env = {
    ...(process.env as Record<string, string>),
    ...cloud.env,
    PATH: `${bin}:${process.env.PATH}`,
    FAKE_PACKER_SCRIPT: path.join(work, 'fake-packer.json'),
    FAKE_PACKER_JOURNAL: path.join(work, 'packer.ndjson'),
    JOB_NAME: 'images/main',
    BRANCH_NAME: 'main',
    GIT_AUTHOR_NAME: 'jenkins',
    GIT_AUTHOR_EMAIL: 'jenkins@example.com',
    GIT_COMMITTER_NAME: 'jenkins',
    GIT_COMMITTER_EMAIL: 'jenkins@example.com',
  };
});

afterAll(async () => {
  await cloud?.close();
});

/** One Jenkins build of origin's main: its steps, in order. */
async function jenkinsBuild(number: number, params: Record<string, string | boolean> = {}) {
  return runJenkinsfile({
    jenkinsfile: JENKINSFILE,
    origin,
    work,
    number,
    params,
    env: { ...env, BUILD_URL: `https://jenkins.example/job/images/job/main/${number}/`, BUILD_NUMBER: String(number) },
  });
}

const bakeCommands = (steps: JenkinsStep[]) =>
  steps
    .filter((s) => s.event === 'sh' && s.script!.includes('bake.js'))
    .map((s) => `${s.workspace}: ${s.script!.trim()}`);

// Whole Jenkins builds (a bake process per step and agent): minutes on a loaded machine.
describe('the Jenkinsfile, run by Groovy against the local cloud', { timeout: 420_000 }, () => {
  it('starts each recipe once its own parent is baked (not a wave), one agent each, publishes JUnit and logs, pins and pushes', async () => {
    await writeFile(path.join(work, 'fake-packer.json'), JSON.stringify({ tools: { waitFor: ['web'] } }));
    const { run, steps, dir } = await jenkinsBuild(1, { PUSH_PINS: true });
    await writeFile(path.join(work, 'fake-packer.json'), '{}');
    expect(run.stderr).not.toContain('FAILURE');
    expect(steps.at(-1)).toEqual({ event: 'result', status: 'SUCCESS' });
    expect(stages(steps)).toEqual(['Setup', 'Validate', 'Security scan (skipped)', 'Plan', 'Build', 'Pin']);
    expect(steps.find((s) => s.event === 'echo')?.text).toBe('bake plan: 3 to build: base, tools, web (after base)');
    expect(steps.find((s) => s.event === 'parallel')?.branches).toEqual(['base', 'tools', 'web']);

    // web's Packer started while tools' was still running, on base's new image, after base's bake.
    const packer = (await readFile(path.join(work, 'packer.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { recipe: string; event: string });
    const at = (recipe: string, event: string) => packer.findIndex((e) => e.recipe === recipe && e.event === event);
    expect(at('base', 'end')).toBeLessThan(at('web', 'start'));
    expect(at('web', 'start')).toBeLessThan(at('tools', 'end'));

    // Each recipe on its own agent: a fresh clone, its own `npm ci`, the recipe as a variable; bake, then distribute.
    const buildSteps = bakeCommands(steps).filter((line) => line.includes(' build '));
    const bakeThenDistribute = [
      './bin/bake.js build "$RECIPE" --no-pin --no-distribute --launch-test later --parent-untested --lock-wait "$BAKE_LOCK_WAIT" --junit "reports/image/$RECIPE.xml" --report "reports/image/$RECIPE.html"',
      './bin/bake.js build "$RECIPE" --no-pin --no-distribute --parent-untested --lock-wait "$BAKE_LOCK_WAIT" --junit "reports/$RECIPE.xml" --report "reports/$RECIPE.html"',
      './bin/bake.js build "$RECIPE" --no-pin --lock-wait "$BAKE_LOCK_WAIT" --junit "reports/distribute/$RECIPE.xml" --report "reports/distribute/$RECIPE.html"',
    ];
    const agentOf = (recipe: string) =>
      steps.find((s) => s.event === 'junit' && s.cases?.[0]?.name === recipe)!.workspace!;
    for (const recipe of ['base', 'tools', 'web']) {
      expect(buildSteps.filter((line) => line.startsWith(`${agentOf(recipe)}:`))).toEqual(
        bakeThenDistribute.map((command) => `${agentOf(recipe)}: ${command}`),
      );
    }
    // The HTML reports Jenkins publishes: the plan's, then one per recipe from its agent.
    const published = steps.filter((s) => s.event === 'publishHTML');
    expect(published[0]).toMatchObject({ name: 'bake plan', file: 'workspace/reports/plan.html' });
    expect(
      published
        .slice(1)
        .map((s) => [s.name, s.file, s.size! > 1000])
        .sort(),
    ).toEqual(
      ['base', 'tools', 'web'].map((recipe) => [
        `bake build ${recipe}`,
        `${agentOf(recipe)}/reports/${recipe}.html`,
        true,
      ]),
    );
    const junit = steps.filter((s) => s.event === 'junit');
    // The image's, the launch test's and the copies' results side by side: no run overwrites another's.
    expect(junit.map((s) => [s.files, s.cases]).sort()).toEqual(
      ['base', 'tools', 'web'].map((recipe) => [
        [`reports/${recipe}.xml`, `reports/distribute/${recipe}.xml`, `reports/image/${recipe}.xml`].sort(),
        [
          { name: recipe, failed: false },
          { name: recipe, failed: false },
          { name: recipe, failed: false },
        ],
      ]),
    );
    expect(new Set(junit.map((s) => s.workspace)).size).toBe(3);
    const archived = steps.filter((s) => s.event === 'archive');
    expect(archived.find((s) => s.files?.includes('plan.json'))).toBeDefined();
    expect(archived.filter((s) => s.workspace?.startsWith('agents/')).map((s) => s.files!.length > 0)).toEqual([
      true,
      true,
      true,
    ]);

    // The pin stage found both images by their tags, archived the diff (the new file included) and pushed the tfvars to the branch.
    expect(await readFile(path.join(dir, 'workspace', 'pin.diff'), 'utf8')).toMatch(
      /^\+\+\+ b\/infra\/amis\.auto\.tfvars$/m,
    );
    await git(editing, 'pull', '-q', 'origin', 'main');
    const { stdout: subject } = await git(editing, 'log', '-1', '--format=%s');
    expect(subject).toBe('bake: pin AMIs from https://jenkins.example/job/images/job/main/1/');
    const tfvars = await readFile(path.join(editing, 'infra', 'amis.auto.tfvars'), 'utf8');
    expect(tfvars).toMatch(/base_ami = \{\n\s+us-east-1 = "ami-\w+"/);
    expect(tfvars).toMatch(/web_ami = \{\n\s+us-east-1 = "ami-\w+"/);
  });

  it('with CHANGED_SINCE builds only what the commit touched, and skips the build stage when nothing needs building', async () => {
    await writeFile(
      path.join(editing, 'recipes', 'web.yaml'),
      `${await readFile(path.join(editing, 'recipes', 'web.yaml'), 'utf8')}instance_type: t3.large\n`,
    );
    await git(editing, 'commit', '-q', '-am', 'web: larger');
    await git(editing, 'push', '-q', 'origin', 'main');

    const changed = await jenkinsBuild(2, { CHANGED_SINCE: 'HEAD~1' });
    expect(changed.steps.at(-1)).toEqual({ event: 'result', status: 'SUCCESS' });
    expect(stages(changed.steps)).toEqual(['Setup', 'Validate', 'Security scan (skipped)', 'Plan', 'Build', 'Pin']);
    expect(changed.steps.find((s) => s.event === 'parallel')?.branches).toEqual(['web']);
    expect(bakeCommands(changed.steps)[1]).toBe(
      'workspace: ./bin/bake.js plan --json ${CHANGED_SINCE:+--changed-since "$CHANGED_SINCE"} --report reports/plan.html > plan.json',
    );

    const nothing = await jenkinsBuild(3);
    expect(nothing.steps.at(-1)).toEqual({ event: 'result', status: 'SUCCESS' });
    expect(stages(nothing.steps)).toEqual([
      'Setup',
      'Validate',
      'Security scan (skipped)',
      'Plan',
      'Build (skipped)',
      'Pin',
    ]);
  });

  it('fails the build, and names the stage, when a bake fails', async () => {
    await writeFile(path.join(work, 'fake-packer.json'), JSON.stringify({ web: { fail: true } }));
    await writeFile(
      path.join(editing, 'recipes', 'web.yaml'),
      `${await readFile(path.join(editing, 'recipes', 'web.yaml'), 'utf8')}volume_size: 20\n`,
    );
    await git(editing, 'commit', '-q', '-am', 'web: bigger disk');
    await git(editing, 'push', '-q', 'origin', 'main');
    const failed = await jenkinsBuild(4);
    await writeFile(path.join(work, 'fake-packer.json'), '{}');
    expect(failed.run.exitCode).toBe(1);
    expect(failed.steps.at(-1)).toMatchObject({ event: 'result', status: 'FAILURE' });
    expect(failed.steps.at(-1)!.error).toContain('parallel branches failed: [web:');
    expect(stages(failed.steps)).toEqual(['Setup', 'Validate', 'Security scan (skipped)', 'Plan', 'Build']);
    // The failed recipe's JUnit result and logs are still published (the Jenkinsfile's finally).
    expect(failed.steps.filter((s) => s.event === 'junit').map((s) => s.cases)).toEqual([
      [{ name: 'web', failed: true }],
    ]);
  });
});
