/**
 * Removes one image bake has just made and must not keep (a child baked on a parent image that
 * then failed its launch test, or a copy made while that test ran): DeregisterImage, then its
 * snapshots. An image or snapshot already gone (Packer deregisters its image when interrupted) is
 * no failure.
 *
 * A copy may still be pending. EC2 lets a pending copy be deregistered (that stops the copy), but
 * its snapshots are only known, and deletable, once EC2 has them: when the pending image names no
 * snapshot yet, when EC2 refuses to deregister it, or refuses to delete a snapshot still being
 * copied, bake waits with the SDK's waiters until the image (or snapshot) is available or failed,
 * and tries again.
 */
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  waitUntilImageAvailable,
  waitUntilSnapshotCompleted,
  type EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { cloudError } from './image-catalog.js';
import { scaledWaiterTiming } from './simulated-waits.js';

const codeOf = (error: unknown) =>
  (error as { Code?: string; name?: string }).Code ?? (error as { name?: string }).name ?? '';
const notFound = (error: unknown) => /\.NotFound$|^InvalidAMIID\./.test(codeOf(error));

export interface DiscardOptions {
  /** The local cloud's simulated time (AwsSettings.timeScale): waiters poll in simulated seconds. */
  timeScale?: number;
  /** How long to wait for a pending image or snapshot to settle (default 2 hours, as for a copy). */
  maxWaitSeconds?: number;
}

/** Returns what was removed, in words; throws a CloudError naming what could not be. */
export async function discardImage(
  ec2: EC2Client,
  region: string,
  imageId: string,
  options: DiscardOptions = {},
): Promise<string[]> {
  const timing = scaledWaiterTiming(
    { minDelay: 2, maxDelay: 15, maxWaitTime: options.maxWaitSeconds ?? 7200 },
    options.timeScale,
  );
  const describe = async (): Promise<Image | undefined> => {
    try {
      const found = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      return found.Images?.[0];
    } catch (error) {
      if (notFound(error)) return undefined;
      throw cloudError(error, `looking up ${imageId} in ${region}`);
    }
  };
  /** Until the image is available or failed (the waiter fails on `failed`: settled all the same). */
  const settled = async (): Promise<Image | undefined> => {
    await waitUntilImageAvailable({ client: ec2, ...timing }, { ImageIds: [imageId] }).catch(() => {});
    const image = await describe();
    if (image?.State === 'pending')
      throw cloudError(new Error(`still pending after ${timing.maxWaitTime} s`), `waiting for ${imageId} in ${region}`);
    return image;
  };
  const snapshotsOf = (image: Image | undefined) =>
    (image?.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : []));

  let image = await describe();
  if (image?.State === 'pending' && snapshotsOf(image).length === 0) image = await settled();
  const snapshots = snapshotsOf(image);
  const removed: string[] = [];
  const deregister = () =>
    ec2.send(new DeregisterImageCommand({ ImageId: imageId })).then(() => void removed.push(imageId));
  try {
    await deregister().catch(async (error: unknown) => {
      // Refused while pending (whatever EC2 calls it, but that it does not exist): once available or failed, it can go.
      if (image?.State !== 'pending' || codeOf(error) === 'InvalidAMIID.NotFound') throw error;
      await settled();
      await deregister();
    });
  } catch (error) {
    if (!notFound(error)) throw cloudError(error, `deregistering ${imageId} in ${region}`);
  }
  for (const snapshot of snapshots) {
    const remove = () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshot }));
    try {
      await remove().catch(async (error: unknown) => {
        // A snapshot still being copied cannot be deleted yet.
        if (notFound(error) || codeOf(error) !== 'IncorrectState') throw error;
        await waitUntilSnapshotCompleted({ client: ec2, ...timing }, { SnapshotIds: [snapshot] }).catch(() => {});
        await remove();
      });
      removed.push(snapshot);
    } catch (error) {
      if (!notFound(error)) throw cloudError(error, `deleting ${snapshot} of ${imageId} in ${region}`);
    }
  }
  return removed;
}
