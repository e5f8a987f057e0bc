import {
  CreateTagsCommand,
  DescribeImagesCommand,
  ModifyImageAttributeCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { CloudError } from '../errors/index.js';
import { createEc2Client } from './clients.js';
import { cloudError } from './image-catalog.js';
import type { AwsSettings } from './settings.js';

/**
 * Tags an AMI and every snapshot behind it, so prune and cost reports can trace snapshots
 * too. Returns the snapshot ids that were tagged. With `client`, uses (and keeps) that client.
 */
export async function tagImage(
  settings: AwsSettings,
  region: string,
  imageId: string,
  tags: Record<string, string>,
  client?: EC2Client,
): Promise<string[]> {
  const ec2 = client ?? createEc2Client(settings, region);
  try {
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    const image = Images[0];
    if (!image) throw new CloudError(`image ${imageId} does not exist in ${region}`);
    const snapshotIds = (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));
    const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    // CreateTags takes at most 50 tags (the per-resource limit) in one call; more is a recipe error EC2 reports.
    await ec2.send(new CreateTagsCommand({ Resources: [imageId, ...snapshotIds], Tags }));
    return snapshotIds;
  } catch (error) {
    throw cloudError(error, `tagging ${imageId} in ${region}`);
  } finally {
    if (!client) ec2.destroy();
  }
}

/** Sets an AMI's description through EC2, where no template engine reads it. */
export async function setImageDescription(
  settings: AwsSettings,
  region: string,
  imageId: string,
  description: string,
): Promise<void> {
  const ec2 = createEc2Client(settings, region);
  try {
    await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, Description: { Value: description } }));
  } catch (error) {
    throw cloudError(error, `setting the description of ${imageId} in ${region}`);
  } finally {
    ec2.destroy();
  }
}
