/**
 * The copies of a new image start while its launch test runs, against the local cloud over HTTP
 * with the `aws` latency profile (time scaled down, so a cross-region copy stays pending for a
 * few real seconds): bake's real distribution copies, waits, tags, shares and removes; the
 * stand-in `packer` (a real process) makes the images; the launch test is a stand-in whose verdict
 * each test times against what the copies and the children do meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CopyImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discardImage } from '../../src/aws/discard-image.js';
import type { LaunchTestResult } from '../../src/launch-test/launch-test.js';
import { AWS_LATENCY, baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { buildBakery, type BuildOptions } from '../../src/pipeline/build.js';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS, type Recipe } from '../../src/recipes/model.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { bakeryOf, recipeOf } from './bakery.js';
import { cloudBuildDeps, fakePackerRun, planToBuild } from './cloud-build.js';
import { launchTestResult } from './launch-test-result.js';
import { readPackerJournal } from './packer-journal.js';

const at = { file: 'recipes/x.yaml', line: 1, col: 1 };
/** 1 simulated second = 5 ms: a cross-region copy (8 min) is pending for 2.4 s. */
const TIME_SCALE = 0.005;
const ACCOUNT = '111122223333';

let cloud: LocalCloud;
const clients = new Map<string, EC2Client>();
const ec2 = (region: string) => {
  if (!clients.has(region)) clients.set(region, new EC2Client({ region, endpoint: cloud.endpoint }));
  return clients.get(region)!;
};

beforeAll(async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-speculative-cloud-'));
  cloud = await startLocalCloud({
    stateDir: path.join(root, '.bake', 'local'),
    host: noInstances,
    latency: { ...AWS_LATENCY, name: 'aws', timeScale: TIME_SCALE },
  });
  process.env.AWS_ACCESS_KEY_ID = cloud.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = cloud.env.AWS_SECRET_ACCESS_KEY;
});

afterAll(async () => {
  for (const client of clients.values()) client.destroy();
  await cloud?.close();
});

const until = async (condition: () => boolean | Promise<boolean>, what: string) => {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const tagsOf = (image: Image) => Object.fromEntries((image.Tags ?? []).map((t) => [t.Key!, t.Value!]));
const snapshotsOf = (image: Image) => (image.BlockDeviceMappings ?? []).flatMap((m) => m.Ebs?.SnapshotId ?? []);

interface Spec {
  regions: string[];
  parent?: string;
  shareWith?: string[];
}

/**
 * A bakery of `specs` (each recipe launch-tested); `script` says what each fake Packer does,
 * `launchTest` what each test answers, and when.
 */
async function bakery(
  specs: Record<string, Spec>,
  script: Record<string, unknown>,
  launchTest: (recipe: string, imageId: string, signal: AbortSignal) => Promise<LaunchTestResult>,
) {
  const { root, fingerprintOf, scriptFile, journal } = await fakePackerRun('bake-speculative-', script);
  const debian = baseImageId('us-east-1');
  const recipes = Object.entries(specs).map(([name, spec]): Recipe =>
    recipeOf(root, name, spec.parent ? { kind: 'recipe', recipe: spec.parent } : { kind: 'ami', ami: debian }, {
      regions: spec.regions,
      shareWith: spec.shareWith ?? [],
      launchTest: { enabled: true, userData: [], checks: [], timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS, location: at },
    }),
  );
  const events: string[] = [];
  const aws = { endpoint: cloud.endpoint, timeScale: TIME_SCALE };
  const deps = cloudBuildDeps({ root, aws, ec2: ec2, events, launchTest });
  const plan = planToBuild(recipes, fingerprintOf, debian);

  const packerRun = (name: string) => readPackerJournal(journal).filter((e) => e.recipe === name);
  const build = (options: BuildOptions = {}) =>
    buildBakery(bakeryOf(root, recipes), plan, deps, {
      runId: 'run-1',
      concurrency: 3,
      packerEnv: { ...cloud.env, FAKE_PACKER_SCRIPT: scriptFile, FAKE_PACKER_JOURNAL: journal },
      ...options,
    });
  /** The recipe's images of this run in `region` (by the fingerprint tag every image and copy carries from its creation). */
  const imagesOf = async (recipe: string, region: string) => {
    const { Images = [] } = await ec2(region).send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'tag:bake:fingerprint', Values: [fingerprintOf(recipe)] }],
      }),
    );
    return Images;
  };
  const snapshotsIn = async (region: string) => {
    const { Snapshots = [] } = await ec2(region).send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    return Snapshots.map((s) => s.SnapshotId!);
  };
  const launchPermissions = async (region: string, imageId: string) => {
    const { LaunchPermissions = [] } = await ec2(region).send(
      new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
    );
    return LaunchPermissions.map((p) => p.UserId ?? p.Group);
  };
  return { events, build, packerRun, imagesOf, snapshotsIn, launchPermissions };
}

const verdict = (status: LaunchTestResult['status'], imageId: string) =>
  launchTestResult(
    status,
    imageId,
    status === 'passed' ? {} : { error: status === 'failed' ? '1 of 1 checks failed' : 'launch test interrupted' },
  );

describe('copies start on the finished image, while its launch test runs', () => {
  it('a child built in another region starts from the copy there during the parent’s test; the copies are published only once it passed', async () => {
    let duringTest: { tags: Record<string, string>; permissions: unknown[]; copy: string } | undefined;
    const { events, build, packerRun, imagesOf, launchPermissions } = await bakery(
      {
        base: { regions: ['us-east-1', 'eu-west-1'], shareWith: [ACCOUNT] },
        web: { regions: ['eu-west-1'], parent: 'base' },
      },
      { web: { regions: ['eu-west-1'] } },
      async (recipe, ami) => {
        if (recipe === 'base') {
          // The verdict waits for the child: a build that copied only after it would never get one.
          await until(() => packerRun('web').length > 0, 'web starting from base’s copy during base’s launch test');
          const [copy] = await imagesOf('base', 'eu-west-1');
          duringTest = {
            copy: copy.ImageId!,
            tags: tagsOf(copy),
            permissions: await launchPermissions('eu-west-1', copy.ImageId!),
          };
        }
        return verdict('passed', ami);
      },
    );
    const report = await build();

    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'built'],
      ['web', 'built'],
    ]);
    // While base was tested, its copy was there, pending like base, shared with nobody, its settings not applied.
    expect(duringTest!.tags['bake:launch-test']).toBe('pending');
    expect(duringTest!.tags['bake:distribution']).toBeUndefined();
    expect(duringTest!.permissions).toEqual([]);
    expect(report.recipes[0].amis['eu-west-1']).toBe(duringTest!.copy);
    expect(packerRun('web')[0].source_ami).toBe(duringTest!.copy);
    // Then published: the outcome on the copy, shared, settled; the child's own test came after base's verdict.
    const [copy] = await imagesOf('base', 'eu-west-1');
    expect(tagsOf(copy)['bake:launch-test']).toBe('passed');
    expect(tagsOf(copy)['bake:distribution']).toBeDefined();
    expect(await launchPermissions('eu-west-1', copy.ImageId!)).toEqual([ACCOUNT]);
    expect(events.indexOf('copy base')).toBeLessThan(events.indexOf('launch test base passed'));
    expect(events.indexOf('launch test base passed')).toBeLessThan(events.indexOf('launch test web starts'));
  }, 90_000);

  it('a failed launch test removes its copies and their snapshots in every region, and stops the child started from one', async () => {
    const { events, build, packerRun, imagesOf, snapshotsIn } = await bakery(
      {
        base: { regions: ['us-east-1', 'eu-west-1', 'us-west-2'] },
        web: { regions: ['eu-west-1'], parent: 'base' },
      },
      { web: { regions: ['eu-west-1'], holdUntil: '/nonexistent/never' } },
      async (recipe, ami) => {
        await until(() => packerRun('web').length > 0, 'web starting from base’s copy during base’s launch test');
        return verdict('failed', ami);
      },
    );
    const report = await build();

    expect(report.recipes.map((r) => [r.name, r.status, r.error])).toEqual([
      ['base', 'failed', '1 of 1 checks failed'],
      ['web', 'skipped', 'parent base failed its launch test'],
    ]);
    expect(packerRun('web').map((e) => e.event)).toContain('interrupt');
    expect(events.filter((e) => /pin|passed/.test(e))).toEqual([]);
    for (const region of ['eu-west-1', 'us-west-2']) {
      expect(await imagesOf('base', region)).toEqual([]);
      expect(await imagesOf('web', region)).toEqual([]);
    }
    // No snapshot without an image anywhere (the copies' went with them).
    for (const region of ['eu-west-1', 'us-west-2']) expect(await snapshotsIn(region)).toEqual(await usedIn(region));
    // The parent's own image stays in its build region, tagged failed.
    expect((await imagesOf('base', 'us-east-1')).map((i) => tagsOf(i)['bake:launch-test'])).toEqual(['failed']);
  }, 90_000);

  it.each(['failed', 'interrupted'] as const)(
    'a copy still pending when the launch test ends %s is removed with its snapshots',
    async (outcome) => {
      const controller = new AbortController();
      let pending: Image | undefined;
      const { build, imagesOf, snapshotsIn } = await bakery(
        { base: { regions: ['us-east-1', 'eu-west-1'] } },
        {},
        async (_recipe, ami, signal) => {
          await until(async () => {
            [pending] = await imagesOf('base', 'eu-west-1');
            return pending !== undefined;
          }, 'a copy of base started during its launch test');
          if (outcome === 'interrupted') {
            controller.abort();
            if (signal.aborted) return verdict('interrupted', ami);
          }
          return verdict('failed', ami);
        },
      );
      const report = await build({ signal: controller.signal });

      expect(pending!.State).toBe('pending');
      expect(report.recipes[0].status).toBe(outcome === 'failed' ? 'failed' : 'aborted');
      expect(await imagesOf('base', 'eu-west-1')).toEqual([]);
      const left = await snapshotsIn('eu-west-1');
      for (const snapshot of snapshotsOf(pending!)) expect(left).not.toContain(snapshot);
    },
    90_000,
  );
});

describe('removing a copy still pending', () => {
  it('waits with the SDK’s waiter until the copy is available when EC2 refuses to deregister it earlier, then removes it and its snapshots', async () => {
    const { ImageId } = await ec2('eu-west-1').send(
      new CopyImageCommand({
        SourceImageId: baseImageId('us-east-1'),
        SourceRegion: 'us-east-1',
        Name: `refused-${randomBytes(4).toString('hex')}`,
      }),
    );
    const [copy] = (await ec2('eu-west-1').send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images!;
    expect(copy.State).toBe('pending');
    const refusal = { action: 'DeregisterImage', resourceId: ImageId, code: 'IncorrectState', times: 1 };
    cloud.faults.push(refusal);

    const removed = await discardImage(ec2('eu-west-1'), 'eu-west-1', ImageId!, { timeScale: TIME_SCALE });

    expect(removed).toEqual([ImageId, ...snapshotsOf(copy)]);
    // It was refused once (while pending), then deregistered.
    expect(refusal.times).toBe(0);
    cloud.faults.splice(cloud.faults.indexOf(refusal), 1);
    const { Images = [] } = await ec2('eu-west-1').send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'image-id', Values: [ImageId!] }] }),
    );
    expect(Images).toEqual([]);
    const left = await ec2('eu-west-1').send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    for (const snapshot of snapshotsOf(copy)) expect(left.Snapshots!.map((s) => s.SnapshotId)).not.toContain(snapshot);
  }, 60_000);
});

/** The snapshots some image of the region uses. */
async function usedIn(region: string): Promise<string[]> {
  const { Images = [] } = await ec2(region).send(new DescribeImagesCommand({ Owners: ['self'] }));
  const { Snapshots = [] } = await ec2(region).send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
  const used = new Set(Images.flatMap(snapshotsOf));
  return Snapshots.map((s) => s.SnapshotId!).filter((id) => used.has(id));
}
