import { DescribeImagesCommand, paginateDescribeImages, type EC2Client, type Image } from '@aws-sdk/client-ec2';
import { CloudError } from '../errors/index.js';
import { createEc2Client } from './clients.js';
import type { ImageCatalog, ImageRecord } from './image-record.js';
import type { AwsSettings } from './settings.js';
import { splitRecipeKey } from '../tags/architecture.js';
import {
  DISTRIBUTION_TAG,
  FINGERPRINT_TAG,
  LAUNCH_TEST_TAG,
  RECIPE_TAG,
  imageRecipeKey,
  isOwnImage,
  isRevoked,
  launchTestBlocksReuse,
} from '../tags/tag-contract.js';

function tagMap(image: Image): Record<string, string> {
  const tags: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const tag of image.Tags ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  return tags;
}

export function imageRecord(image: Image, region: string): ImageRecord | undefined {
  const tags = tagMap(image);
  if (!image.ImageId || tags[RECIPE_TAG] === undefined) return undefined;
  return {
    imageId: image.ImageId,
    region,
    name: image.Name ?? '',
    // The (recipe, architecture) pair: what plans and prunes compare with a recipe's name.
    recipe: imageRecipeKey(tags),
    fingerprint: tags[FINGERPRINT_TAG] ?? '',
    createdAt: image.CreationDate ?? '',
    state: image.State ?? 'unknown',
    snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [])),
    ...(image.DeprecationTime && { deprecationTime: image.DeprecationTime }),
    tags: { ...tags },
  };
}

export async function listRegion(client: EC2Client, region: string): Promise<ImageRecord[]> {
  const records: ImageRecord[] = [];
  const pages = paginateDescribeImages(
    { client, pageSize: 1000 },
    { Owners: ['self'], Filters: [{ Name: 'tag-key', Values: [RECIPE_TAG] }] },
  );
  try {
    for await (const page of pages) {
      for (const image of page.Images ?? []) {
        const record = imageRecord(image, region);
        if (record) records.push(record);
      }
    }
  } catch (error) {
    throw cloudError(error, `listing baked images in ${region}`);
  }
  return records;
}

/** Turns an SDK failure into the one-line error bake prints. */
export function cloudError(error: unknown, doing: string): CloudError {
  if (error instanceof CloudError) return error;
  const err = error as { name?: string; message?: string; Code?: string };
  const code = err.Code ?? err.name ?? 'Error';
  return new CloudError(`${doing}: ${code}: ${err.message ?? String(error)}`);
}

/**
 * The EC2 side of "what has been built": one paginated DescribeImages per region (own images
 * carrying a bake:recipe tag), regions in parallel. Clients are made once per region and kept.
 */
export function createImageCatalog(
  settings: AwsSettings,
  clients: (region: string) => EC2Client = cachedClients(settings),
): ImageCatalog {
  return {
    async listBakedImages(regions) {
      const lists = await Promise.all([...new Set(regions)].map((region) => listRegion(clients(region), region)));
      return lists.flat();
    },
  };
}

export function cachedClients(settings: AwsSettings): (region: string) => EC2Client {
  const clients = new Map<string, EC2Client>();
  return (region) => {
    let client = clients.get(region);
    if (!client) {
      client = createEc2Client(settings, region);
      clients.set(region, client);
    }
    return client;
  };
}

/**
 * Region → AMI of the recipe's available images with this fingerprint: one filtered
 * DescribeImages per region, for the check made once a recipe's build lock is held.
 */
/** An image with a recipe's fingerprint, and the `bake:distribution` settings applied to it so far (none: not yet). */
export interface FoundImage {
  imageId: string;
  distribution?: string;
}

export async function findImagesWithFingerprint(
  clients: (region: string) => EC2Client,
  recipe: string,
  fingerprint: string,
  regions: string[],
  owner?: { bakery: string; recipes: ReadonlySet<string>; legacyName?: string },
  /** Region → the image id a build record names: only that image counts there (src/tags/build-record.ts). */
  recorded?: Record<string, string>,
): Promise<Record<string, FoundImage>> {
  const found: Record<string, FoundImage> = {};
  await Promise.all(
    regions.map(async (region) => {
      try {
        const { Images = [] } = await clients(region).send(
          new DescribeImagesCommand({
            Owners: ['self'],
            Filters: [
              { Name: `tag:${RECIPE_TAG}`, Values: [splitRecipeKey(recipe).recipe] },
              { Name: `tag:${FINGERPRINT_TAG}`, Values: [fingerprint] },
              { Name: 'state', Values: ['available'] },
            ],
          }),
        );
        // An image still in (or failed at) its launch test is not one to reuse; only this bakery's images count.
        const ofRecipe = Images.filter((image) => imageRecipeKey(tagMap(image)) === recipe);
        const own = owner
          ? ofRecipe.filter((image) => isOwnImage(tagMap(image), owner.bakery, owner.recipes, owner.legacyName))
          : ofRecipe;
        const usable = own.filter(
          (image) =>
            !launchTestBlocksReuse(image.Tags?.find((tag) => tag.Key === LAUNCH_TEST_TAG)?.Value) &&
            !isRevoked(tagMap(image)) &&
            (!recorded || image.ImageId === recorded[region]),
        );
        const newest = usable.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
        if (newest?.ImageId)
          found[region] = {
            imageId: newest.ImageId,
            distribution: newest.Tags?.find((t) => t.Key === DISTRIBUTION_TAG)?.Value,
          };
      } catch (error) {
        throw cloudError(error, `looking for ${recipe} images with fingerprint ${fingerprint} in ${region}`);
      }
    }),
  );
  return found;
}

/** Which of these image ids exist in the region (own or shared with this account), for pins that may name a deleted image. */
export async function existingImageIds(client: EC2Client, region: string, imageIds: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const ids = [...new Set(imageIds)];
  // A filter takes at most 200 values; unlike ImageIds, a filter does not fail on an id that is gone.
  for (let i = 0; i < ids.length; i += 200) {
    try {
      const { Images = [] } = await client.send(
        new DescribeImagesCommand({ Filters: [{ Name: 'image-id', Values: ids.slice(i, i + 200) }] }),
      );
      for (const image of Images) if (image.ImageId && image.State !== 'deregistered') found.add(image.ImageId);
    } catch (error) {
      throw cloudError(error, `looking for pinned images in ${region}`);
    }
  }
  return found;
}
