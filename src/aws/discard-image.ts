/**
 * Removes one image bake has just made and must not keep (a child baked on a parent image that
 * then failed its launch test): DeregisterImage, then its snapshots. An image or snapshot already
 * gone (Packer deregisters its image when interrupted) is no failure.
 */
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { cloudError } from './image-catalog.js';

const codeOf = (error: unknown) =>
  (error as { Code?: string; name?: string }).Code ?? (error as { name?: string }).name ?? '';
const notFound = (error: unknown) => /\.NotFound$|^InvalidAMIID\./.test(codeOf(error));

/** Returns what was removed, in words; throws a CloudError naming what could not be. */
export async function discardImage(ec2: EC2Client, region: string, imageId: string): Promise<string[]> {
  let snapshots: string[] = [];
  try {
    const found = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    snapshots = (found.Images?.[0]?.BlockDeviceMappings ?? []).flatMap((m) =>
      m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [],
    );
  } catch (error) {
    if (!notFound(error)) throw cloudError(error, `looking up ${imageId} in ${region}`);
  }
  const removed: string[] = [];
  try {
    await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
    removed.push(imageId);
  } catch (error) {
    if (!notFound(error)) throw cloudError(error, `deregistering ${imageId} in ${region}`);
  }
  for (const snapshot of snapshots) {
    try {
      await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshot }));
      removed.push(snapshot);
    } catch (error) {
      if (!notFound(error)) throw cloudError(error, `deleting ${snapshot} of ${imageId} in ${region}`);
    }
  }
  return removed;
}
