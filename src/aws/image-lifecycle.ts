/**
 * The EC2 side of environments (promote, rollback, revoke, pin records): read images by id
 * or by recipe, tag them, deprecate them now. One client per region, kept for the command.
 */
import { DescribeImagesCommand, EnableImageDeprecationCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { cachedClients, cloudError, imageRecord, listRegion } from './image-catalog.js';
import type { ImageRecord } from './image-record.js';
import type { AwsSettings } from './settings.js';
import { tagImage } from './tag-image.js';

export interface LifecycleEc2 {
  /** Every image tagged bake:recipe in the region (any bakery: the caller keeps its own). */
  listBakedImages(region: string): Promise<ImageRecord[]>;
  /** These images as EC2 has them now; an id EC2 no longer knows is left out. */
  describeImages(region: string, imageIds: string[]): Promise<ImageRecord[]>;
  /** Tags the image and its snapshots. */
  tagImage(region: string, imageId: string, tags: Record<string, string>): Promise<void>;
  /** EC2's deprecation time, set to `at` (kept to the minute by EC2). */
  deprecate(region: string, imageId: string, at: Date): Promise<void>;
}

export function createLifecycleEc2(
  settings: AwsSettings,
  clients: (region: string) => EC2Client = cachedClients(settings),
): LifecycleEc2 {
  return {
    listBakedImages: (region) => listRegion(clients(region), region),
    async describeImages(region, imageIds) {
      if (imageIds.length === 0) return [];
      try {
        // A filter (not ImageIds) does not fail the whole call on one id that is gone.
        const { Images = [] } = await clients(region).send(
          new DescribeImagesCommand({ Filters: [{ Name: 'image-id', Values: [...new Set(imageIds)] }] }),
        );
        return Images.flatMap((image) => {
          const record = imageRecord(image, region);
          return record ? [record] : [];
        });
      } catch (error) {
        throw cloudError(error, `describing ${imageIds.join(', ')} in ${region}`);
      }
    },
    async tagImage(region, imageId, tags) {
      await tagImage(settings, region, imageId, tags, clients(region));
    },
    async deprecate(region, imageId, at) {
      try {
        await clients(region).send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: at }));
      } catch (error) {
        throw cloudError(error, `deprecating ${imageId} in ${region}`);
      }
    },
  };
}
