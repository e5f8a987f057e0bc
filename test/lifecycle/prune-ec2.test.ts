/**
 * `bake prune`'s core against the local cloud, over HTTP with the real SDK clients: listing in
 * two regions, dry run versus apply, snapshots going with their images, pinned and current
 * images staying, and one region failing while the other is pruned and everything is reported.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CopyImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { countEc2Calls, createEc2Client, type CallCounter } from '../../src/aws/clients.js';
import { createPruneEc2 } from '../../src/aws/prune-images.js';
import { TfvarsError } from '../../src/errors/index.js';
import { pruneBakery, pruneExitCode, type PruneDeps } from '../../src/lifecycle/prune.js';
import { pruneLines } from '../../src/lifecycle/prune-report.js';
import { baseImageId } from '../../src/local-cloud/index.js';
import { readPinnedAmis } from '../../src/tfvars/pinned-values.js';
import { bakeTestImage } from '../local-cloud/bake-image.js';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';
import { bakeryOf, recipeOf } from '../pipeline/bakery.js';

const NOW = new Date();
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

describe('bake prune against the local cloud', () => {
  let t: TestCloud;
  let source: string;
  let root: string;
  const counters = new Map<string, CallCounter>();
  const clients = new Map<string, EC2Client>();

  beforeAll(async () => {
    t = await startTestCloud();
    vi.stubEnv('AWS_ACCESS_KEY_ID', t.cloud.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', t.cloud.credentials.secretAccessKey);
    source = await bakeTestImage(t.ec2('us-east-1'), 'us-east-1', 'source');
  });
  afterAll(async () => {
    for (const client of clients.values()) client.destroy();
    vi.unstubAllEnvs();
    await t.close();
  });

  const clientOf = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = createEc2Client({ endpoint: t.cloud.endpoint }, region);
      counters.set(region, countEc2Calls(client));
      clients.set(region, client);
    }
    return client;
  };

  /** A baked image as bake leaves it: tagged image and snapshots (copied from one source, as fast as the local cloud goes). */
  async function bakedImage(region: string, recipe: string, fingerprint: string, ageDays: number): Promise<string> {
    const Tags = [
      { Key: 'bake:recipe', Value: recipe },
      { Key: 'bake:fingerprint', Value: fingerprint },
      { Key: 'bake:built-at', Value: daysAgo(ageDays) },
      { Key: 'bake:bakery', Value: 'bake-tests' },
    ];
    const { ImageId } = await t.ec2(region).send(
      new CopyImageCommand({
        SourceImageId: source,
        SourceRegion: 'us-east-1',
        Name: `${recipe}-${fingerprint}-${region}-${ageDays}`,
        TagSpecifications: [
          { ResourceType: 'image', Tags },
          { ResourceType: 'snapshot', Tags },
        ],
      }),
    );
    return ImageId!;
  }

  async function exists(region: string, imageId: string): Promise<boolean> {
    const { Images = [] } = await t
      .ec2(region)
      .send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'image-id', Values: [imageId] }] }));
    return Images.length > 0;
  }

  async function snapshotsOf(region: string, imageId: string): Promise<string[]> {
    const [image] = (await t.ec2(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
    return image.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
  }

  async function snapshotExists(region: string, snapshotId: string): Promise<boolean> {
    const { Snapshots = [] } = await t
      .ec2(region)
      .send(
        new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'snapshot-id', Values: [snapshotId] }] }),
      );
    return Snapshots.length > 0;
  }

  /** A bakery whose recipe `name` pins into its own tfvars file, with images of ages 1–5 days in both regions. */
  async function bakery(name: string, pinnedText?: (amis: Record<string, string[]>) => string) {
    root = await mkdtemp(path.join(tmpdir(), 'bake-prune-'));
    await mkdir(path.join(root, 'infra'));
    const tfvars = path.join(root, 'infra', `${name}.auto.tfvars`);
    const recipe = recipeOf(
      root,
      name,
      { kind: 'ami', ami: baseImageId('us-east-1') },
      {
        regions: ['us-east-1', 'eu-west-1'],
        pin: [
          {
            file: tfvars,
            fileAsWritten: `../infra/${name}.auto.tfvars`,
            variable: `${name}_ami`,
            format: 'map',
            location: { file: 'x', line: 1, col: 1 },
          },
        ],
      },
    );
    const amis: Record<string, string[]> = { 'us-east-1': [], 'eu-west-1': [] };
    for (const region of Object.keys(amis)) {
      for (const age of [1, 2, 3, 4, 5]) amis[region].push(await bakedImage(region, name, `fp${age}`, age));
    }
    if (pinnedText) await writeFile(tfvars, pinnedText(amis));
    const deps: PruneDeps = {
      ec2: createPruneEc2({ endpoint: t.cloud.endpoint }, clientOf),
      readPinned: readPinnedAmis,
      // Today's fingerprint is the 4-day-old one (the plan's business; its own tests cover it).
      currentFingerprints: async () => new Map([[name, 'fp4']]),
      now: () => NOW,
    };
    const b = bakeryOf(root, [recipe]);
    b.config.regions = ['us-east-1', 'eu-west-1'];
    // The cloud is shared by these tests: each prunes only its own recipe's images.
    return { bakery: b, deps, amis, tfvars, recipes: [recipe] };
  }

  const pinFirstRegionOldest = (amis: Record<string, string[]>) =>
    `# pinned by hand\nweb_ami = {\n  us-east-1 = "${amis['us-east-1'][4]}"\n}\n`;

  it('lists what would go and why and deletes nothing; --apply deletes it with its snapshots in both regions', async () => {
    const { bakery: b, deps, amis } = await bakery('web', pinFirstRegionOldest);
    const dry = await pruneBakery(b, deps, { keep: 2, apply: false });
    const doomed = dry.images.filter((i) => i.status === 'would-delete').map((i) => [i.region, i.imageId]);
    expect(doomed.sort()).toEqual(
      [
        ['us-east-1', amis['us-east-1'][2]],
        ['eu-west-1', amis['eu-west-1'][2]],
        ['eu-west-1', amis['eu-west-1'][4]],
      ].sort(),
    );
    const kept = Object.fromEntries(dry.images.filter((i) => i.status === 'kept').map((i) => [i.imageId, i.reasons]));
    expect(kept[amis['us-east-1'][4]]).toEqual(['pinned in infra/web.auto.tfvars:web_ami']);
    expect(kept[amis['us-east-1'][3]]).toEqual(['current fingerprint of web']);
    expect(pruneExitCode(dry)).toBe(0);
    expect(pruneLines(dry).at(-1)).toBe('dry run: 3 would be deleted, 7 kept; --apply deletes them');
    for (const [region, imageId] of doomed) expect(await exists(region, imageId)).toBe(true);

    const snapshots = await Promise.all(doomed.map(([region, imageId]) => snapshotsOf(region, imageId)));
    const applied = await pruneBakery(b, deps, { keep: 2, apply: true });
    expect(
      applied.images
        .filter((i) => i.status === 'deleted')
        .map((i) => [i.region, i.imageId])
        .sort(),
    ).toEqual(doomed.sort());
    for (const [i, [region, imageId]] of doomed.entries()) {
      expect(await exists(region, imageId)).toBe(false);
      for (const snapshot of snapshots[i]) expect(await snapshotExists(region, snapshot)).toBe(false);
      expect(applied.images.find((image) => image.imageId === imageId)!.snapshotsDeleted).toEqual(snapshots[i]);
    }
    for (const region of ['us-east-1', 'eu-west-1']) {
      for (const imageId of amis[region].filter((id) => !doomed.some(([, gone]) => gone === id)))
        expect(await exists(region, imageId)).toBe(true);
    }
    expect(pruneExitCode(applied)).toBe(0);
  });

  it('goes on past a region that fails, reports each image deleted or failed, and exits 1', async () => {
    const { bakery: b, deps, amis, recipes } = await bakery('api');
    t.cloud.faults.push({
      action: 'DeregisterImage',
      region: 'eu-west-1',
      code: 'UnauthorizedOperation',
      message: 'no deregistering here',
    });
    try {
      const report = await pruneBakery(b, deps, { recipes, keep: 3, apply: true });
      const outcome = Object.fromEntries(
        report.images.filter((i) => i.action === 'delete').map((i) => [i.imageId, [i.status, i.error]]),
      );
      expect(outcome).toEqual({
        [amis['us-east-1'][4]]: ['deleted', undefined],
        [amis['eu-west-1'][4]]: [
          'failed',
          `deregistering ${amis['eu-west-1'][4]} in eu-west-1: UnauthorizedOperation: no deregistering here`,
        ],
      });
      expect(await exists('us-east-1', amis['us-east-1'][4])).toBe(false);
      expect(await exists('eu-west-1', amis['eu-west-1'][4])).toBe(true);
      expect(pruneExitCode(report)).toBe(1);
      expect(pruneLines(report).at(-1)).toBe('1 deleted (1 snapshots), 1 failed, 8 kept');
    } finally {
      t.cloud.faults.length = 0;
    }
  });

  it('prunes the regions it can list and reports the one it cannot', async () => {
    const { bakery: b, deps, amis, recipes } = await bakery('worker');
    t.cloud.faults.push({
      action: 'DescribeImages',
      region: 'eu-west-1',
      code: 'UnauthorizedOperation',
      message: 'region disabled',
    });
    try {
      const report = await pruneBakery(b, deps, { recipes, keep: 3, apply: true });
      expect(report.regions).toEqual([
        { region: 'us-east-1', images: expect.any(Number) },
        {
          region: 'eu-west-1',
          images: 0,
          error: 'listing baked images in eu-west-1: UnauthorizedOperation: region disabled',
        },
      ]);
      expect(report.images.filter((i) => i.status === 'deleted').map((i) => i.imageId)).toEqual([amis['us-east-1'][4]]);
      expect(pruneExitCode(report)).toBe(1);
    } finally {
      t.cloud.faults.length = 0;
    }
  });

  it('refuses to prune, before asking EC2 anything, when a tfvars target does not parse', async () => {
    const { bakery: b, deps, tfvars } = await bakery('broken', () => 'web_ami = {\n  us-east-1 = \n');
    const before = counters.get('us-east-1')?.count ?? 0;
    const attempt = pruneBakery(b, deps, { keep: 0, apply: true });
    await expect(attempt).rejects.toBeInstanceOf(TfvarsError);
    await expect(attempt).rejects.toThrow(/bake prune deletes nothing while it cannot tell what is pinned/);
    expect(counters.get('us-east-1')?.count ?? 0).toBe(before);
    expect(tfvars).toMatch(/broken\.auto\.tfvars$/);
  });

  it('prunes a few hundred images in one region quickly, with one DescribeImages and about two calls per image', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'bake-prune-bulk-'));
    const recipe = recipeOf(root, 'bulk', { kind: 'ami', ami: baseImageId('us-east-1') }, { regions: ['ap-south-1'] });
    const b = bakeryOf(root, [recipe]);
    b.config.regions = ['ap-south-1'];
    const made = Date.now();
    for (let age = 1; age <= 300; age++) await bakedImage('ap-south-1', 'bulk', `bulk${age}`, age);
    const setup = Date.now() - made;
    const deps: PruneDeps = {
      ec2: createPruneEc2({ endpoint: t.cloud.endpoint }, clientOf),
      readPinned: readPinnedAmis,
      currentFingerprints: async () => new Map([['bulk', 'bulk1']]),
      now: () => NOW,
    };
    clientOf('ap-south-1');
    const before = new Map(counters.get('ap-south-1')!.byOperation);
    const started = Date.now();
    const report = await pruneBakery(b, deps, { keep: 3, olderThanMs: 7 * 86_400_000, olderThan: '7d', apply: true });
    const elapsed = Date.now() - started;
    const calls = Object.fromEntries(
      [...counters.get('ap-south-1')!.byOperation].map(([op, n]) => [op, n - (before.get(op) ?? 0)]),
    );
    console.log(
      `prune --apply of 300 images (293 deleted): ${elapsed} ms, EC2 calls ${JSON.stringify(calls)} (making them took ${setup} ms)`,
    );
    expect(report.images.filter((i) => i.status === 'deleted')).toHaveLength(293);
    expect(calls).toEqual({ DescribeImages: 1, DeregisterImage: 293, DeleteSnapshot: 293 });
  });
});
