/**
 * The EC2 calls of bake's distribution step (src/lifecycle/distribute.ts): CopyImage, the
 * SDK's image waiter, tags, launch and create-volume permissions, ImdsSupport and
 * EnableImageDeprecation. One client per region, kept for the run.
 */
import {
  CopyImageCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  DisableImageDeprecationCommand,
  EnableImageDeprecationCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  type EC2Client,
  type Image,
  type LaunchPermission,
  type Tag,
} from '@aws-sdk/client-ec2';
import { randomUUID } from 'node:crypto';
import { CloudError } from '../errors/index.js';
import type { DistributionEc2, ImageFacts } from './distribution-ec2.js';
import { isNoChange, sharingChange, type SharePrincipals, type SharingChange } from './launch-permissions.js';
import { cachedClients, cloudError } from './image-catalog.js';
import type { AwsSettings } from './settings.js';
import { tagImage } from './tag-image.js';
import { waitForImage } from './wait-for-image.js';

export interface DistributionOptions {
  /** How long to wait for one copy to become available (default 2 hours: large cross-region copies are slow). */
  maxWaitSeconds?: number;
  clients?: (region: string) => EC2Client;
}

function tagsOf(tags: Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const tag of tags ?? []) if (tag.Key !== undefined) out[tag.Key] = tag.Value ?? '';
  return { ...out };
}

function factsOf(image: Image, region: string): ImageFacts {
  return {
    imageId: image.ImageId ?? '',
    region,
    state: image.State ?? 'unknown',
    name: image.Name ?? '',
    description: image.Description,
    snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [])),
    tags: tagsOf(image.Tags),
    imdsSupport: image.ImdsSupport,
    deprecationTime: image.DeprecationTime,
    createdAt: image.CreationDate ?? '',
  };
}

function launchPermissions(principals: SharePrincipals): LaunchPermission[] {
  return [
    ...principals.accounts.map((UserId) => ({ UserId })),
    ...principals.organizations.map((OrganizationArn) => ({ OrganizationArn })),
    ...principals.organizationalUnits.map((OrganizationalUnitArn) => ({ OrganizationalUnitArn })),
  ];
}

const nobody = (): SharePrincipals => ({ accounts: [], organizations: [], organizationalUnits: [] });

/** Launch permissions to add and remove, in one ModifyImageAttribute; nothing is sent when there is nothing to change. */
async function modifyLaunchPermissions(ec2: EC2Client, imageId: string, change: SharingChange): Promise<void> {
  if (isNoChange(change)) return;
  const Remove = [...launchPermissions(change.remove), ...(change.removePublic ? [{ Group: 'all' as const }] : [])];
  await ec2.send(
    new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Add: launchPermissions(change.add), Remove },
    }),
  );
}

/**
 * Accounts may also copy the image, which needs its snapshots' create-volume permission;
 * organizations launch without it. With `exactly`, accounts (and the public) not wanted lose it.
 */
async function shareSnapshots(
  ec2: EC2Client,
  snapshotIds: string[],
  accounts: string[],
  exactly: boolean,
): Promise<void> {
  for (const SnapshotId of snapshotIds) {
    let current: string[] = [];
    let isPublic = false;
    if (exactly) {
      const { CreateVolumePermissions = [] } = await ec2.send(
        new DescribeSnapshotAttributeCommand({ SnapshotId, Attribute: 'createVolumePermission' }),
      );
      current = CreateVolumePermissions.flatMap((p) => (p.UserId ? [p.UserId] : []));
      isPublic = CreateVolumePermissions.some((p) => p.Group === 'all');
    }
    const change = sharingChange({ ...nobody(), accounts: current, public: isPublic }, { ...nobody(), accounts });
    const remove = [
      ...change.remove.accounts.map((UserId) => ({ UserId })),
      ...(change.removePublic ? [{ Group: 'all' as const }] : []),
    ];
    const add = change.add.accounts.map((UserId) => ({ UserId }));
    // EC2 refuses adding and removing in one ModifySnapshotAttribute: two calls, revocations first.
    if (remove.length)
      await ec2.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId,
          Attribute: 'createVolumePermission',
          CreateVolumePermission: { Remove: remove },
        }),
      );
    if (add.length)
      await ec2.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId,
          Attribute: 'createVolumePermission',
          CreateVolumePermission: { Add: add },
        }),
      );
  }
}

async function calling<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw cloudError(error, doing);
  }
}

export function createImageDistribution(settings: AwsSettings, options: DistributionOptions = {}): DistributionEc2 {
  const clients = options.clients ?? cachedClients(settings);
  const maxWait = options.maxWaitSeconds ?? 7200;
  return {
    describeImage: (region, imageId) =>
      calling(`describing ${imageId} in ${region}`, async () => {
        const { Images = [] } = await clients(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }));
        if (!Images[0]) throw new CloudError(`image ${imageId} does not exist in ${region}`);
        return factsOf(Images[0], region);
      }),

    findImageByName: (region, name) =>
      calling(`looking for an image named ${name} in ${region}`, async () => {
        const { Images = [] } = await clients(region).send(
          new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] }),
        );
        return Images[0] ? factsOf(Images[0], region) : undefined;
      }),

    copyImage: (request) =>
      calling(`copying ${request.sourceImageId} from ${request.sourceRegion} to ${request.region}`, async () => {
        const Tags = Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value }));
        const { ImageId } = await clients(request.region).send(
          new CopyImageCommand({
            SourceImageId: request.sourceImageId,
            SourceRegion: request.sourceRegion,
            Name: request.name,
            Description: request.description,
            ...(request.encrypted ? { Encrypted: true } : {}),
            ...(request.kmsKeyId ? { KmsKeyId: request.kmsKeyId } : {}),
            TagSpecifications: Tags.length ? [{ ResourceType: 'image', Tags }] : undefined,
            // The SDK retries a request it got no answer to; the token makes EC2 start one copy, not two.
            ClientToken: randomUUID(),
          }),
        );
        if (!ImageId) throw new CloudError(`CopyImage to ${request.region} returned no image id`);
        return ImageId;
      }),

    waitUntilAvailable: (region, imageId, signal) =>
      waitForImage(settings, region, imageId, maxWait, clients(region), signal),

    tagImage: (region, imageId, tags) => tagImage(settings, region, imageId, tags, clients(region)),

    share: (region, imageId, snapshotIds, principals, { exactly }) =>
      calling(`sharing ${imageId} in ${region}`, async () => {
        const ec2 = clients(region);
        let current = { ...nobody(), public: false };
        if (exactly) {
          const { LaunchPermissions = [] } = await ec2.send(
            new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
          );
          current = {
            accounts: LaunchPermissions.flatMap((p) => (p.UserId ? [p.UserId] : [])),
            organizations: LaunchPermissions.flatMap((p) => (p.OrganizationArn ? [p.OrganizationArn] : [])),
            organizationalUnits: LaunchPermissions.flatMap((p) =>
              p.OrganizationalUnitArn ? [p.OrganizationalUnitArn] : [],
            ),
            public: LaunchPermissions.some((p) => p.Group === 'all'),
          };
        }
        await modifyLaunchPermissions(ec2, imageId, sharingChange(current, principals));
        await shareSnapshots(ec2, snapshotIds, principals.accounts, exactly);
      }),

    requireImdsV2: (region, imageId) =>
      calling(`setting ImdsSupport on ${imageId} in ${region}`, async () => {
        await clients(region).send(
          new ModifyImageAttributeCommand({ ImageId: imageId, ImdsSupport: { Value: 'v2.0' } }),
        );
      }),

    deprecate: (region, imageId, at) =>
      calling(`setting the deprecation time of ${imageId} in ${region}`, async () => {
        await clients(region).send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: at }));
      }),

    undeprecate: (region, imageId) =>
      calling(`removing the deprecation time of ${imageId} in ${region}`, async () => {
        await clients(region).send(new DisableImageDeprecationCommand({ ImageId: imageId }));
      }),

    deregister: (region, imageId) =>
      calling(`deregistering ${imageId} in ${region}`, async () => {
        await clients(region).send(new DeregisterImageCommand({ ImageId: imageId }));
      }),
  };
}
