/**
 * The EC2 side of `bake prune`: list bake's images region by region (a region that fails is
 * reported, not fatal), and delete images: DeregisterImage, then each snapshot that no
 * remaining image uses. Every image gets its own outcome, so a failure midway loses no record
 * of what was already done.
 */
import { DeleteSnapshotCommand, DeregisterImageCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { ImageRecord } from './image-record.js';
import { cachedClients, cloudError, listRegion } from './image-catalog.js';
import type { AwsSettings } from './settings.js';

export interface RegionListing {
  region: string;
  images: ImageRecord[];
  /** Set when the region could not be listed: nothing there is decided or deleted. */
  error?: string;
}

export interface ImageDeletion {
  imageId: string;
  region: string;
  status: 'deleted' | 'failed';
  error?: string;
  snapshotsDeleted: string[];
  /** Snapshot → why it stayed (another image uses it). */
  snapshotsKept: Record<string, string>;
}

export interface PruneEc2 {
  listImages(regions: string[]): Promise<RegionListing[]>;
  /** Deletes `doomed` in one region; `others` are the region's images that stay (their snapshots are spared). */
  deleteImages(
    region: string,
    doomed: Array<{ imageId: string; snapshotIds: string[] }>,
    others: ImageRecord[],
  ): Promise<ImageDeletion[]>;
}

// Deletions in one region at once: enough to prune hundreds of images in seconds, gentle on EC2's rate limits.
const PARALLEL_DELETES = 4;

const errorCode = (error: unknown) =>
  (error as { Code?: string; name?: string }).Code ?? (error as { name?: string }).name ?? '';

export function createPruneEc2(
  settings: AwsSettings,
  clients: (region: string) => EC2Client = cachedClients(settings),
): PruneEc2 {
  return {
    listImages: (regions) =>
      Promise.all(
        [...new Set(regions)].map(async (region): Promise<RegionListing> => {
          try {
            return { region, images: await listRegion(clients(region), region) };
          } catch (error) {
            return { region, images: [], error: (error as Error).message };
          }
        }),
      ),

    async deleteImages(region, doomed, others) {
      const ec2 = clients(region);
      // Snapshot → the images still registered that use it.
      const users = new Map<string, Set<string>>();
      for (const image of [...others, ...doomed]) {
        for (const snapshot of image.snapshotIds)
          users.set(snapshot, (users.get(snapshot) ?? new Set()).add(image.imageId));
      }
      const deleteOne = async (image: { imageId: string; snapshotIds: string[] }): Promise<ImageDeletion> => {
        const outcome: ImageDeletion = {
          imageId: image.imageId,
          region,
          status: 'deleted',
          snapshotsDeleted: [],
          snapshotsKept: {},
        };
        try {
          await ec2.send(new DeregisterImageCommand({ ImageId: image.imageId }));
        } catch (error) {
          return {
            ...outcome,
            status: 'failed',
            error: cloudError(error, `deregistering ${image.imageId} in ${region}`).message,
          };
        }
        for (const snapshot of image.snapshotIds) users.get(snapshot)?.delete(image.imageId);
        const failures: string[] = [];
        for (const snapshot of image.snapshotIds) {
          const stillUsedBy = [...(users.get(snapshot) ?? [])];
          if (stillUsedBy.length) {
            outcome.snapshotsKept[snapshot] = `used by ${stillUsedBy.join(', ')}`;
            continue;
          }
          try {
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshot }));
            outcome.snapshotsDeleted.push(snapshot);
          } catch (error) {
            const code = errorCode(error);
            // An image bake does not know of (not tagged bake:recipe) may use it: it stays, that is no failure.
            if (code === 'InvalidSnapshot.InUse') outcome.snapshotsKept[snapshot] = 'in use by another image';
            else if (code === 'InvalidSnapshot.NotFound') outcome.snapshotsKept[snapshot] = 'already gone';
            else failures.push(cloudError(error, `deleting ${snapshot} in ${region}`).message);
          }
        }
        if (failures.length) return { ...outcome, status: 'failed', error: `deregistered, but ${failures.join('; ')}` };
        return outcome;
      };

      const outcomes: ImageDeletion[] = [];
      const queue = [...doomed];
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL_DELETES, queue.length) }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) outcomes.push(await deleteOne(next));
        }),
      );
      const order = new Map(doomed.map((image, i) => [image.imageId, i]));
      return outcomes.sort((a, b) => order.get(a.imageId)! - order.get(b.imageId)!);
    },
  };
}
