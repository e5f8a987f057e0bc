/**
 * bake's distribution step against the local cloud, over HTTP with the real SDK clients: copies
 * to the other regions (waited for with the SDK's waiter), tags on copies and their snapshots,
 * KMS keys per region, launch and create-volume permissions, IMDSv2 and deprecation times in
 * every region; and one region failing while the others are done and reported.
 */
import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  ModifyImageAttributeCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { countEc2Calls, createEc2Client, type CallCounter } from '../../src/aws/clients.js';
import { createImageDistribution } from '../../src/aws/image-distribution.js';
import type { AwsSettings } from '../../src/aws/settings.js';
import { tagImage } from '../../src/aws/tag-image.js';
import { DistributionError, deprecationTime, distributeImage } from '../../src/lifecycle/distribute.js';
import { distributionTag } from '../../src/lifecycle/distribution-settings.js';
import { baseImageId } from '../../src/local-cloud/index.js';
import { bakeTestImage } from '../local-cloud/bake-image.js';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';
import { recipeOf } from '../pipeline/bakery.js';

const ORG = 'arn:aws:organizations::111122223333:organization/o-a1b2c3d4e5';
const OU = 'arn:aws:organizations::111122223333:ou/o-a1b2c3d4e5/ou-ab12-cd34ef56';
const tagObject = (tags: Array<{ Key?: string; Value?: string }> = []) =>
  Object.fromEntries(tags.map((t) => [t.Key, t.Value]));

describe('distributing a baked image to its regions', () => {
  let t: TestCloud;
  let settings: AwsSettings;
  const counters = new Map<string, CallCounter>();
  const calls = (region: string, operation: string) => counters.get(region)?.byOperation.get(operation) ?? 0;
  const clients = new Map<string, EC2Client>();
  const clientOf = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = createEc2Client(settings, region);
      counters.set(region, countEc2Calls(client));
      clients.set(region, client);
    }
    return client;
  };
  const ec2 = () => createImageDistribution(settings, { clients: clientOf, maxWaitSeconds: 60 });

  beforeAll(async () => {
    t = await startTestCloud();
    settings = { endpoint: t.cloud.endpoint };
    vi.stubEnv('AWS_ACCESS_KEY_ID', t.cloud.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', t.cloud.credentials.secretAccessKey);
  });
  afterAll(async () => {
    for (const client of clients.values()) client.destroy();
    vi.unstubAllEnvs();
    await t.close();
  });

  /** What Packer leaves: an image in the build region, tagged by bake. */
  async function baked(name: string, tags: Record<string, string>) {
    const imageId = await bakeTestImage(t.ec2('us-east-1'), 'us-east-1', name);
    await tagImage(settings, 'us-east-1', imageId, tags);
    return imageId;
  }

  it('copies to every other region, re-encrypting, tagging, sharing, IMDSv2 and deprecation in each', async () => {
    const builtAt = new Date().toISOString();
    const tags = {
      Name: 'web-1',
      'bake:recipe': 'web',
      'bake:fingerprint': 'f1',
      'bake:built-at': builtAt,
      team: 'frontend',
    };
    const source = await baked('web-1', tags);
    const recipe = recipeOf(
      '/b',
      'web',
      { kind: 'ami', ami: baseImageId('us-east-1') },
      {
        regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'],
        encrypted: true,
        kmsKeyIds: { 'eu-west-1': 'arn:aws:kms:eu-west-1:000000000000:alias/images' },
        imdsv2: true,
        shareWith: ['123456789012', ORG, OU],
        deprecateAfterDays: 90,
      },
    );
    const log: string[] = [];
    const started = Date.now();
    const result = await distributeImage(ec2(), {
      recipe,
      amis: { 'us-east-1': source },
      tags,
      builtAt,
      bakedNow: true,
      now: new Date(),
      log: (l) => void log.push(l),
    });
    const elapsed = Date.now() - started;
    console.log(
      `copy + tag + share + imdsv2 + deprecate, 2 regions in parallel: ${elapsed} ms; EC2 calls ${JSON.stringify([...counters].map(([r, c]) => [r, c.count, Object.fromEntries(c.byOperation)]))}`,
    );

    expect(Object.keys(result.amis)).toEqual(['us-east-1', 'eu-west-1', 'ap-southeast-2']);
    expect(result.amis['us-east-1']).toBe(source);
    // A copy may keep the source's ImdsSupport (then nothing is left to set): checked on the images below.
    expect(result.regions.map((r) => [r.region, r.copied, r.done.filter((step) => step !== 'imdsv2')])).toEqual([
      ['us-east-1', false, ['shared', 'deprecated', 'settled']],
      ['eu-west-1', true, ['copied', 'tagged', 'shared', 'deprecated', 'settled']],
      ['ap-southeast-2', true, ['copied', 'tagged', 'shared', 'deprecated', 'settled']],
    ]);
    const settled = { ...tags, 'bake:distribution': distributionTag(recipe) };
    const due = deprecationTime(builtAt, 90, new Date());
    for (const [region, imageId] of Object.entries(result.amis)) {
      const client = t.ec2(region);
      const [image] = (await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
      expect(image.State).toBe('available');
      expect(tagObject(image.Tags)).toEqual(settled);
      expect(image.ImdsSupport).toBe('v2.0');
      // EC2 keeps deprecation times to the minute (seconds cut off).
      expect(image.DeprecationTime).toBe(new Date(Math.floor(due.getTime() / 60_000) * 60_000).toISOString());
      const launch = await client.send(
        new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
      );
      expect(launch.LaunchPermissions).toEqual([
        { UserId: '123456789012' },
        { OrganizationArn: ORG },
        { OrganizationalUnitArn: OU },
      ]);
      const snapshotIds = image.BlockDeviceMappings!.map((m) => m.Ebs!.SnapshotId!);
      const { Snapshots = [] } = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds }));
      for (const snapshot of Snapshots) {
        expect(tagObject(snapshot.Tags)).toEqual(settled);
        if (region === 'eu-west-1')
          expect(snapshot).toMatchObject({
            Encrypted: true,
            KmsKeyId: 'arn:aws:kms:eu-west-1:000000000000:alias/images',
          });
        if (region === 'ap-southeast-2') expect(snapshot).toMatchObject({ Encrypted: true, KmsKeyId: 'alias/aws/ebs' });
        const volume = await client.send(
          new DescribeSnapshotAttributeCommand({
            SnapshotId: snapshot.SnapshotId,
            Attribute: 'createVolumePermission',
          }),
        );
        expect(volume.CreateVolumePermissions).toEqual([{ UserId: '123456789012' }]);
      }
    }
    expect(
      log.some(
        (line) =>
          line.startsWith(`copying ${source} (us-east-1) to eu-west-1 as ami-`) &&
          line.endsWith('encrypted with arn:aws:kms:eu-west-1:000000000000:alias/images'),
      ),
    ).toBe(true);
  });

  it('reports the region that failed with what was done elsewhere, and a re-run copies only that region', async () => {
    const tags = {
      Name: 'web-2',
      'bake:recipe': 'web',
      'bake:fingerprint': 'f2',
      'bake:built-at': new Date().toISOString(),
    };
    const source = await baked('web-2', tags);
    const recipe = recipeOf(
      '/b',
      'web',
      { kind: 'ami', ami: baseImageId('us-east-1') },
      { regions: ['us-east-1', 'eu-west-1', 'eu-central-1'], deprecateAfterDays: 30 },
    );
    t.cloud.faults.push({
      action: 'CopyImage',
      region: 'eu-central-1',
      code: 'UnauthorizedOperation',
      message: 'not allowed in eu-central-1',
      times: 1,
    });

    const attempt = await distributeImage(ec2(), {
      recipe,
      amis: { 'us-east-1': source },
      tags,
      now: new Date(),
    }).catch((error: unknown) => error);
    expect(attempt).toBeInstanceOf(DistributionError);
    const failure = attempt as DistributionError;
    expect(failure.message).toMatch(
      /^distributing ami-\w+ failed in eu-central-1 \(copying ami-\w+ from us-east-1 to eu-central-1: UnauthorizedOperation: not allowed in eu-central-1\)$/,
    );
    expect(Object.keys(failure.amis)).toEqual(['us-east-1', 'eu-west-1']);
    expect(failure.regions.find((r) => r.region === 'eu-west-1')).toMatchObject({
      copied: true,
      done: ['copied', 'tagged', 'deprecated', 'settled'],
    });
    const settled = { ...tags, 'bake:distribution': distributionTag(recipe) };
    const [copy] = (await t.ec2('eu-west-1').send(new DescribeImagesCommand({ ImageIds: [failure.amis['eu-west-1']] })))
      .Images!;
    expect(tagObject(copy.Tags)).toEqual(settled);

    // The next run knows only the images (as the plan finds them by tag); tags and build time come from the source image.
    const copiesBefore = calls('eu-west-1', 'CopyImage');
    const again = await distributeImage(ec2(), { recipe, amis: failure.amis, now: new Date() });
    expect(again.regions.map((r) => [r.region, r.copied])).toEqual([
      ['us-east-1', false],
      ['eu-west-1', false],
      ['eu-central-1', true],
    ]);
    expect(calls('eu-west-1', 'CopyImage')).toBe(copiesBefore);
    const [third] = (
      await t.ec2('eu-central-1').send(new DescribeImagesCommand({ ImageIds: [again.amis['eu-central-1']] }))
    ).Images!;
    expect(tagObject(third.Tags)).toEqual(settled);
    expect(third.DeprecationTime).toBe(copy.DeprecationTime);
  });

  it('reports a copy that ends up failed, and the next run clears it out of the way of its name', async () => {
    const tags = {
      Name: 'web-3',
      'bake:recipe': 'web',
      'bake:fingerprint': 'f3',
      'bake:built-at': new Date().toISOString(),
    };
    const source = await baked('web-3', tags);
    const recipe = recipeOf(
      '/b',
      'web',
      { kind: 'ami', ami: baseImageId('us-east-1') },
      { regions: ['us-east-1', 'eu-west-1'] },
    );
    const alias = t.host.alias.bind(t.host);
    t.host.alias = async () => {
      throw new Error('disk full');
    };
    const failure = (await distributeImage(ec2(), {
      recipe,
      amis: { 'us-east-1': source },
      tags,
      now: new Date(),
    }).catch((e: unknown) => e)) as DistributionError;
    t.host.alias = alias;
    expect(failure).toBeInstanceOf(DistributionError);
    const failedCopy = failure.amis['eu-west-1'];
    expect(failure.message).toContain(`waiting for ${failedCopy} in eu-west-1 to become available`);

    const log: string[] = [];
    const second = await distributeImage(ec2(), {
      recipe,
      amis: { 'us-east-1': source },
      tags,
      now: new Date(),
      log: (l) => void log.push(l),
    });
    expect(second.amis['eu-west-1']).not.toBe(failedCopy);
    expect(log).toContain(`deregistering ${failedCopy} in eu-west-1: an earlier copy that failed`);
  });

  it('applies changed settings to the existing images: revokes who is no longer listed, clears the deprecation, copies nothing', async () => {
    const tags = {
      Name: 'web-4',
      'bake:recipe': 'web',
      'bake:fingerprint': 'f4',
      'bake:built-at': new Date().toISOString(),
    };
    const source = await baked('web-4', tags);
    const regions = ['us-east-1', 'eu-west-1'];
    const before = recipeOf(
      '/b',
      'web',
      { kind: 'ami', ami: baseImageId('us-east-1') },
      { regions, shareWith: ['111111111111', '222222222222'], deprecateAfterDays: 30 },
    );
    const first = await distributeImage(ec2(), {
      recipe: before,
      amis: { 'us-east-1': source },
      tags,
      bakedNow: true,
      now: new Date(),
    });
    // Somebody made the copy public by hand: not what the recipe says.
    await t.ec2('eu-west-1').send(
      new ModifyImageAttributeCommand({
        ImageId: first.amis['eu-west-1'],
        LaunchPermission: { Add: [{ Group: 'all' }] },
      }),
    );

    // 111… swapped for 333…: EC2 takes the snapshot's removal and addition only as separate calls.
    const after = recipeOf(
      '/b',
      'web',
      { kind: 'ami', ami: baseImageId('us-east-1') },
      { regions, shareWith: ['222222222222', '333333333333', ORG] },
    );
    const copies = calls('eu-west-1', 'CopyImage');
    const callsBefore = [...counters.values()].reduce((sum, c) => sum + c.count, 0);
    const log: string[] = [];
    const started = Date.now();
    const second = await distributeImage(ec2(), {
      recipe: after,
      amis: first.amis,
      now: new Date(),
      log: (l) => void log.push(l),
    });
    console.log(
      `re-applying changed sharing and deprecation, 2 regions: ${Date.now() - started} ms, ${[...counters.values()].reduce((sum, c) => sum + c.count, 0) - callsBefore} EC2 calls`,
    );
    expect(second.amis).toEqual(first.amis);
    expect(calls('eu-west-1', 'CopyImage')).toBe(copies);
    expect(second.regions.map((r) => r.done)).toEqual([
      ['shared', 'undeprecated', 'settled'],
      ['shared', 'undeprecated', 'settled'],
    ]);
    expect(log).toContain(
      `shared ${source} in us-east-1 with 222222222222, 333333333333, ${ORG} (other permissions revoked)`,
    );
    for (const [region, imageId] of Object.entries(second.amis)) {
      const client = t.ec2(region);
      const [image] = (await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
      expect(image.DeprecationTime).toBeUndefined();
      expect(tagObject(image.Tags)['bake:distribution']).toBe(distributionTag(after));
      const launch = await client.send(
        new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
      );
      expect(launch.LaunchPermissions).toEqual([
        { UserId: '222222222222' },
        { UserId: '333333333333' },
        { OrganizationArn: ORG },
      ]);
      for (const mapping of image.BlockDeviceMappings!) {
        const volume = await client.send(
          new DescribeSnapshotAttributeCommand({
            SnapshotId: mapping.Ebs!.SnapshotId,
            Attribute: 'createVolumePermission',
          }),
        );
        expect(volume.CreateVolumePermissions).toEqual([{ UserId: '222222222222' }, { UserId: '333333333333' }]);
      }
    }

    // Sharing with nobody revokes everything.
    const alone = recipeOf('/b', 'web', { kind: 'ami', ami: baseImageId('us-east-1') }, { regions });
    await distributeImage(ec2(), { recipe: alone, amis: first.amis, now: new Date() });
    const launch = await t
      .ec2('eu-west-1')
      .send(new DescribeImageAttributeCommand({ ImageId: first.amis['eu-west-1'], Attribute: 'launchPermission' }));
    expect(launch.LaunchPermissions).toEqual([]);
  });

  it('deprecates a minute from now an image older than its deprecation age', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    expect(deprecationTime('2026-01-01T00:00:00Z', 30, now).toISOString()).toBe('2026-11-22T12:01:00.000Z');
    expect(deprecationTime('2026-11-20T00:00:00Z', 30, now).toISOString()).toBe('2026-12-20T00:00:00.000Z');
  });
});
