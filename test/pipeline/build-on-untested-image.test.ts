/**
 * Children bake on their parent's finished image while the parent's launch test runs, against the
 * local cloud over HTTP: the stand-in `packer` (a real process) makes real images there, bake's
 * real tagger, distribution and image removal act on them. The launch test is a stand-in timed
 * against the children's Packers (test/launch-test/ exercises the real one), so each test decides
 * when the parent's verdict comes: while the child still provisions, or once its image exists.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaunchTestResult } from '../../src/launch-test/launch-test.js';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { buildBakery, type BuildOptions } from '../../src/pipeline/build.js';
import { buildExitCode } from '../../src/pipeline/build-report.js';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS, type Recipe } from '../../src/recipes/model.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { bakeryOf, recipeOf } from './bakery.js';
import { cloudBuildDeps, fakePackerRun, planToBuild } from './cloud-build.js';
import { launchTestResult } from './launch-test-result.js';
import { readPackerJournal } from './packer-journal.js';

const at = { file: 'recipes/x.yaml', line: 1, col: 1 };

let cloud: LocalCloud;
let ec2: EC2Client;

beforeAll(async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-untested-cloud-'));
  cloud = await startLocalCloud({ stateDir: path.join(root, '.bake', 'local'), host: noInstances });
  process.env.AWS_ACCESS_KEY_ID = cloud.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = cloud.env.AWS_SECRET_ACCESS_KEY;
  ec2 = new EC2Client({ region: 'us-east-1', endpoint: cloud.endpoint });
});

afterAll(async () => {
  ec2?.destroy();
  await cloud?.close();
});

const until = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

function verdict(status: LaunchTestResult['status'], imageId: string): LaunchTestResult {
  const error = status === 'failed' ? '1 of 1 checks failed: port listening: 80' : 'launch test interrupted';
  return launchTestResult(status, imageId, status === 'passed' ? {} : { error });
}

/**
 * base → web → app in one region, each with a launch test; `script` says what each fake Packer
 * does, `launchTest` what each test answers (and when).
 */
async function chain(
  script: Record<string, unknown>,
  launchTest: (recipe: string, imageId: string, signal: AbortSignal) => Promise<LaunchTestResult>,
  options: BuildOptions = {},
) {
  const { root, fingerprintOf, scriptFile, journal } = await fakePackerRun('bake-untested-', script);
  const debian = baseImageId('us-east-1');
  const recipe = (name: string, parent?: string): Recipe =>
    recipeOf(root, name, parent ? { kind: 'recipe', recipe: parent } : { kind: 'ami', ami: debian }, {
      launchTest: { enabled: true, userData: [], checks: [], timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS, location: at },
    });
  const recipes = [recipe('base'), recipe('web', 'base'), recipe('app', 'web')];
  const events: string[] = [];
  const aws = { endpoint: cloud.endpoint };
  const deps = cloudBuildDeps({ root, aws, ec2: () => ec2, events, launchTest });
  const plan = planToBuild(recipes, fingerprintOf, debian);

  const packerStarted = (name: string) =>
    readPackerJournal(journal).some((e) => e.recipe === name && e.event === 'start');
  const packerInterrupted = (name: string) =>
    readPackerJournal(journal).some((e) => e.recipe === name && e.event === 'interrupt');
  const build = (more: BuildOptions = {}) =>
    buildBakery(bakeryOf(root, recipes), plan, deps, {
      runId: 'run-1',
      concurrency: 3,
      packerEnv: { ...cloud.env, FAKE_PACKER_SCRIPT: scriptFile, FAKE_PACKER_JOURNAL: journal },
      ...options,
      ...more,
    });
  /** The images this run left of a recipe (by the fake Packer's image names), and their snapshots. */
  const leftOf = async (recipe: string) => {
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    const images = Images.filter((image) => image.Name?.startsWith(`${recipe}-${fingerprintOf(recipe).slice(0, 12)}`));
    const { Snapshots = [] } = await ec2.send(
      new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:bake:fingerprint', Values: [fingerprintOf(recipe)] }] }),
    );
    return { images: images.map((i) => i.ImageId), snapshots: Snapshots.map((s) => s.SnapshotId) };
  };
  return { root, events, build, packerStarted, packerInterrupted, leftOf, fingerprintOf };
}

describe('children bake on a parent image whose launch test is still running', () => {
  it('starts the child while the parent is tested; the child is tested, copied and pinned only after the parent passed', async () => {
    const { events, build, packerStarted, leftOf } = await chain({}, async (recipe, ami) => {
      // The parent's verdict waits for the child's Packer: a build that waited for the verdict would never get one.
      if (recipe === 'base') await until(() => packerStarted('web'), 'web starting during base’s launch test');
      return verdict('passed', ami);
    });
    const report = await build();

    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'built'],
      ['web', 'built'],
      ['app', 'built'],
    ]);
    expect(buildExitCode(report)).toBe(0);
    const before = (a: string, b: string) => expect(events.indexOf(a)).toBeLessThan(events.indexOf(b));
    before('launch test base passed', 'launch test web starts');
    before('launch test base passed', 'publish base');
    before('launch test web passed', 'publish web');
    before('launch test web passed', 'launch test app starts');
    before('launch test app passed', 'publish app');
    // What the failing cases look for finds what a passing run keeps.
    expect((await leftOf('web')).images).toEqual([report.recipes[1].amis['us-east-1']]);
    expect((await leftOf('web')).snapshots).toHaveLength(1);
  }, 90_000);

  it('runs the parent’s launch test while its children hold every slot (they wait for its verdict; a test takes no slot)', async () => {
    // At --concurrency 1, base gives its slot back as Packer stops its instance; web takes it and provisions
    // until base's launch test has started. Had the test needed a slot, it would wait for web forever.
    const released = path.join(await mkdtemp(path.join(tmpdir(), 'bake-untested-hold-')), 'base-test-started');
    const { events, build } = await chain(
      { base: { stopsBeforeWaiting: true }, web: { holdUntil: released } },
      async (recipe, ami) => {
        if (recipe === 'base') await writeFile(released, '');
        return verdict('passed', ami);
      },
    );
    const report = await build({ concurrency: 1 });

    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'built'],
      ['web', 'built'],
      ['app', 'built'],
    ]);
    expect(events.indexOf('launch test base passed')).toBeLessThan(events.indexOf('launch test web starts'));
  }, 90_000);

  it('stops the child’s Packer when the parent fails its launch test, and skips the grandchild: nothing left, nothing passed, shared or pinned', async () => {
    const { root, events, build, packerStarted, packerInterrupted, leftOf } = await chain(
      { web: { holdUntil: '/nonexistent/never' } },
      async (recipe, ami) => {
        if (recipe === 'base') await until(() => packerStarted('web'), 'web starting during base’s launch test');
        return verdict(recipe === 'base' ? 'failed' : 'passed', ami);
      },
    );
    const report = await build();

    expect(report.recipes.map((r) => [r.name, r.status, r.error])).toEqual([
      ['base', 'failed', '1 of 1 checks failed: port listening: 80'],
      ['web', 'skipped', 'parent base failed its launch test'],
      ['app', 'skipped', 'parent web skipped'],
    ]);
    expect(packerInterrupted('web')).toBe(true);
    expect(buildExitCode(report)).toBe(1);
    expect(report.pin).toEqual({ status: 'skipped', reason: 'a recipe failed' });
    expect(events.filter((e) => /publish|pin|passed/.test(e))).toEqual([]);
    expect(await leftOf('web')).toEqual({ images: [], snapshots: [] });
    expect(existsSync(root)).toBe(true);
  }, 90_000);

  it('removes the child’s finished image and its snapshots when the parent fails after it; the child’s own test never runs', async () => {
    const { events, build, packerStarted, packerInterrupted, leftOf, fingerprintOf } = await chain(
      // web's image is made and tagged, then its Packer cleans up until it is stopped; app, started on
      // web's finished image, provisions until it is stopped.
      { web: { cleanupUntil: '/nonexistent/never' }, app: { holdUntil: '/nonexistent/never' } },
      async (recipe, ami) => {
        if (recipe === 'base')
          await until(() => packerStarted('app'), 'web’s image finished during base’s launch test');
        return verdict(recipe === 'base' ? 'failed' : 'passed', ami);
      },
    );
    const report = await build();

    expect(report.recipes.map((r) => [r.name, r.status, r.error])).toEqual([
      ['base', 'failed', '1 of 1 checks failed: port listening: 80'],
      ['web', 'skipped', 'parent base failed its launch test'],
      ['app', 'skipped', 'ancestor base failed its launch test'],
    ]);
    expect([packerInterrupted('web'), packerInterrupted('app')]).toEqual([true, true]);
    expect(events).toContain('tag web pending');
    expect(events).not.toContain('launch test web starts');
    expect(events.filter((e) => /publish|pin|passed/.test(e))).toEqual([]);
    expect(await leftOf('web')).toEqual({ images: [], snapshots: [] });
    expect(await leftOf('app')).toEqual({ images: [], snapshots: [] });
    // The parent's failed image stays, tagged failed, for a look at why.
    const { Images = [] } = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'tag:bake:fingerprint', Values: [fingerprintOf('base')] }],
      }),
    );
    expect(Images.map((image) => image.Tags?.find((t) => t.Key === 'bake:launch-test')?.Value)).toEqual(['failed']);
  }, 90_000);

  it('an interrupt during the parent’s launch test stops the child’s Packer too, and pins nothing', async () => {
    const controller = new AbortController();
    const { build, packerStarted, packerInterrupted } = await chain(
      { web: { holdUntil: '/nonexistent/never' } },
      async (recipe, ami, signal) => {
        if (recipe === 'base') {
          await until(() => packerStarted('web'), 'web starting during base’s launch test');
          controller.abort();
          if (signal.aborted) return verdict('interrupted', ami);
        }
        return verdict('passed', ami);
      },
      { signal: controller.signal },
    );
    const report = await build();

    expect(report.interrupted).toBe(true);
    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'aborted'],
      ['web', 'aborted'],
      ['app', 'aborted'],
    ]);
    expect(packerInterrupted('web')).toBe(true);
    expect(report.pin).toMatchObject({ status: 'skipped' });
  }, 90_000);
});
