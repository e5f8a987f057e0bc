import {
  CopyImageCommand,
  CreateImageCommand,
  CreateKeyPairCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DisableImageDeprecationCommand,
  EnableImageDeprecationCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  paginateDescribeImages,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGE_NAME, DEBIAN_ACCOUNT, SELF_ACCOUNT, baseImageId } from '../../src/local-cloud/index.js';
import { startTestCloud, type TestCloud } from './memory-host.js';

const WAIT = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };

/** Boots an instance from the Debian base, writes a file into it and images it. */
async function bakeImage(
  t: TestCloud,
  ec2: EC2Client,
  name: string,
  tags: Record<string, string> = {},
): Promise<string> {
  const run = await ec2.send(
    new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
  );
  const instanceId = run.Instances![0].InstanceId!;
  await waitUntilInstanceRunning({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
  t.host.instances.get(instanceId)!.files.set('/root/x', `${name}\n`);
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await waitUntilInstanceStopped({ client: ec2, ...WAIT }, { InstanceIds: [instanceId] });
  const { ImageId } = await ec2.send(
    new CreateImageCommand({
      InstanceId: instanceId,
      Name: name,
      TagSpecifications: [
        { ResourceType: 'image', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        { ResourceType: 'snapshot', Tags: [{ Key: 'Name', Value: name }] },
      ],
    }),
  );
  await waitUntilImageAvailable({ client: ec2, ...WAIT }, { ImageIds: [ImageId!] });
  return ImageId!;
}

describe('images in the local cloud', () => {
  let t: TestCloud;
  let ec2: EC2Client;
  beforeAll(async () => {
    t = await startTestCloud();
    ec2 = t.ec2();
  });
  afterAll(() => t.close());

  it('offers the public Debian 12 base in every region, owned by the Debian account', async () => {
    for (const region of ['us-east-1', 'eu-west-1']) {
      const { Images = [] } = await t.ec2(region).send(
        new DescribeImagesCommand({
          Owners: [DEBIAN_ACCOUNT],
          Filters: [{ Name: 'name', Values: ['debian-12-amd64-*'] }],
        }),
      );
      expect(Images).toHaveLength(1);
      expect(Images[0]).toMatchObject({
        ImageId: baseImageId(region),
        Name: BASE_IMAGE_NAME,
        OwnerId: DEBIAN_ACCOUNT,
        Public: true,
        State: 'available',
        RootDeviceName: '/dev/xvda',
        VirtualizationType: 'hvm',
        Architecture: 'x86_64',
      });
      expect(Images[0].CreationDate).toBe('2026-11-01T00:00:00.000Z');
    }
  });

  it('matches name filters with * and ? and leaves other owners out', async () => {
    const find = async (name: string, owners?: string[]) =>
      (await ec2.send(new DescribeImagesCommand({ Owners: owners, Filters: [{ Name: 'name', Values: [name] }] })))
        .Images ?? [];
    expect(await find('debian-1?-amd64-2026110?-1')).toHaveLength(1);
    expect(await find('debian-13-*')).toHaveLength(0);
    expect(await find('debian-12-*', ['self'])).toHaveLength(0);
    expect(await find('debian-12-*', ['099720109477'])).toHaveLength(0);
  });

  it('rejects an unknown filter and a malformed image id the way EC2 does', async () => {
    await expect(
      ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-12345678'] }))).rejects.toMatchObject({
      name: 'InvalidAMIID.NotFound',
    });
    await expect(ec2.send(new DescribeImagesCommand({ ImageIds: ['web'] }))).rejects.toMatchObject({
      name: 'InvalidAMIID.Malformed',
    });
  });

  it('captures an instance filesystem as a new image with tagged snapshots', async () => {
    const imageId = await bakeImage(t, ec2, 'web-1', { 'bake:recipe': 'web', 'bake:fingerprint': 'f1' });
    expect(t.host.images.get(imageId)?.get('/root/x')).toBe('web-1\n');
    const { Images = [] } = await ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:bake:recipe', Values: ['web'] }] }),
    );
    expect(Images.map((i) => i.ImageId)).toEqual([imageId]);
    expect(Images[0].OwnerId).toBe(SELF_ACCOUNT);
    expect(Images[0].CreationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const snapshotId = Images[0].BlockDeviceMappings![0].Ebs!.SnapshotId!;
    const { Snapshots = [] } = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    expect(Snapshots[0].Tags).toEqual([{ Key: 'Name', Value: 'web-1' }]);
    await expect(
      ec2.send(new CreateImageCommand({ InstanceId: Images[0].SourceInstanceId!, Name: 'web-1' })),
    ).rejects.toMatchObject({ name: 'InvalidAMIName.Duplicate' });
  });

  it('copies an image to another region with new snapshots and the same filesystem', async () => {
    const imageId = await bakeImage(t, ec2, 'copy-me');
    const west = t.ec2('eu-west-1');
    const { ImageId: copyId } = await west.send(
      new CopyImageCommand({ SourceImageId: imageId, SourceRegion: 'us-east-1', Name: 'copy-me' }),
    );
    await waitUntilImageAvailable({ client: west, ...WAIT }, { ImageIds: [copyId!] });
    expect(t.host.images.get(copyId!)?.get('/root/x')).toBe('copy-me\n');
    const [source] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
    const [copy] = (await west.send(new DescribeImagesCommand({ ImageIds: [copyId!] }))).Images!;
    expect(copy.BlockDeviceMappings![0].Ebs!.SnapshotId).not.toBe(source.BlockDeviceMappings![0].Ebs!.SnapshotId);
    const { Snapshots = [] } = await west.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    expect(Snapshots.map((s) => s.SnapshotId)).toContain(copy.BlockDeviceMappings![0].Ebs!.SnapshotId);
    await expect(ec2.send(new DescribeImagesCommand({ ImageIds: [copyId!] }))).rejects.toMatchObject({
      name: 'InvalidAMIID.NotFound',
    });
  });

  it('keeps a snapshot while an image uses it and deletes it after deregistration', async () => {
    const imageId = await bakeImage(t, ec2, 'old-web');
    const [image] = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images!;
    const snapshotId = image.BlockDeviceMappings![0].Ebs!.SnapshotId!;
    await expect(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }))).rejects.toMatchObject({
      name: 'InvalidSnapshot.InUse',
    });
    await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
    await expect(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).rejects.toMatchObject({
      name: 'InvalidSnapshot.NotFound',
    });
    expect(t.host.calls).toContain(`deleteImage ${imageId}`);
  });

  it('shares an image with accounts, organizations and everyone, and takes it back', async () => {
    const imageId = await bakeImage(t, ec2, 'shared');
    await ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        LaunchPermission: {
          Add: [
            { UserId: '111122223333' },
            { OrganizationArn: 'arn:aws:organizations::111122223333:organization/o-abc' },
            { OrganizationalUnitArn: 'arn:aws:organizations::111122223333:ou/o-abc/ou-x' },
            { Group: 'all' },
          ],
        },
      }),
    );
    const read = async () =>
      (await ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' })))
        .LaunchPermissions;
    expect(await read()).toEqual([
      { UserId: '111122223333' },
      { OrganizationArn: 'arn:aws:organizations::111122223333:organization/o-abc' },
      { OrganizationalUnitArn: 'arn:aws:organizations::111122223333:ou/o-abc/ou-x' },
      { Group: 'all' },
    ]);
    expect((await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0].Public).toBe(true);
    await ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        LaunchPermission: { Remove: [{ Group: 'all' }, { UserId: '111122223333' }] },
      }),
    );
    expect(await read()).toHaveLength(2);
    await expect(
      ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: 'bob' }] } })),
    ).rejects.toMatchObject({
      name: 'InvalidAMIAttributeItemValue',
    });
  });

  it('grants and revokes snapshot create-volume permission in separate calls, refusing both in one as EC2 does', async () => {
    const imageId = await bakeImage(t, ec2, 'snapshot-shared');
    const SnapshotId = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0]
      .BlockDeviceMappings![0].Ebs!.SnapshotId!;
    const modify = (CreateVolumePermission: { Add?: Array<{ UserId: string }>; Remove?: Array<{ UserId: string }> }) =>
      ec2.send(
        new ModifySnapshotAttributeCommand({ SnapshotId, Attribute: 'createVolumePermission', CreateVolumePermission }),
      );
    const read = async () =>
      (await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId, Attribute: 'createVolumePermission' })))
        .CreateVolumePermissions;
    await modify({ Add: [{ UserId: '111111111111' }] });
    await expect(
      modify({ Add: [{ UserId: '222222222222' }], Remove: [{ UserId: '111111111111' }] }),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    expect(await read()).toEqual([{ UserId: '111111111111' }]);
    await modify({ Remove: [{ UserId: '111111111111' }] });
    await modify({ Add: [{ UserId: '222222222222' }] });
    expect(await read()).toEqual([{ UserId: '222222222222' }]);
  });

  it('sets and clears a deprecation time, rounded down to the minute', async () => {
    const imageId = await bakeImage(t, ec2, 'deprecated');
    await ec2.send(
      new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date('2027-01-01T10:20:30Z') }),
    );
    const describe = async () =>
      (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0].DeprecationTime;
    expect(await describe()).toBe('2027-01-01T10:20:00.000Z');
    await ec2.send(new DisableImageDeprecationCommand({ ImageId: imageId }));
    expect(await describe()).toBeUndefined();
  });

  it('refuses a deprecation time more than 10 years ahead, as EC2 does', async () => {
    const imageId = await bakeImage(t, ec2, 'deprecated-far');
    const far = new Date();
    far.setUTCFullYear(far.getUTCFullYear() + 10, far.getUTCMonth(), far.getUTCDate() + 2);
    await expect(
      ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: far })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringMatching(/more than 10 years/),
    });
    const near = new Date(Date.now() + 3650 * 86_400_000);
    await ec2.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: near }));
  });

  it('pages DescribeImages with MaxResults and NextToken', async () => {
    for (let i = 0; i < 6; i++) await bakeImage(t, ec2, `paged-${i}`, { 'bake:recipe': 'paged' });
    const pages: number[] = [];
    for await (const page of paginateDescribeImages(
      { client: ec2, pageSize: 5 },
      { Owners: ['self'], Filters: [{ Name: 'tag:bake:recipe', Values: ['paged'] }] },
    )) {
      pages.push(page.Images?.length ?? 0);
    }
    expect(pages).toEqual([5, 1]);
  });

  it('hands out key material once and never writes it to the state file', async () => {
    const { KeyMaterial } = await ec2.send(new CreateKeyPairCommand({ KeyName: 'secret' }));
    const { readFileSync } = await import('node:fs');
    const state = readFileSync(`${t.stateDir}/state.json`, 'utf8');
    expect(state).toContain('"keyName": "secret"');
    expect(state).not.toContain(KeyMaterial!.split('\n')[1]);
    expect(state).not.toContain('PRIVATE KEY');
  });
});
