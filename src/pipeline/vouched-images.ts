/**
 * Which images bake vouches for (src/tags/build-record.ts): promote and rollback pin an image only
 * when a build record of its recipe and fingerprint names it, now or earlier. Tags alone are a
 * claim anyone with CreateTags can make.
 */
import type { BuildRecords } from '../aws/build-records.js';
import type { ImageRecord } from '../aws/image-record.js';
import { recordVouchesFor } from '../tags/build-record.js';

/** The ids among `images` (one recipe's) that a build record vouches for: one read per region. */
export async function vouchedImages(
  records: Pick<BuildRecords, 'read'>,
  recipe: string,
  images: Array<Pick<ImageRecord, 'imageId' | 'region' | 'fingerprint'>>,
): Promise<Set<string>> {
  const vouched = new Set<string>();
  const fingerprints = [...new Set(images.map((image) => image.fingerprint).filter(Boolean))];
  const answers = await Promise.all(
    fingerprints.map(async (fingerprint) => {
      const regions = [...new Set(images.filter((i) => i.fingerprint === fingerprint).map((i) => i.region))];
      const found = await records.read([{ recipe, fingerprint, regions }]);
      return { fingerprint, byRegion: found.get(recipe) ?? {} };
    }),
  );
  for (const { fingerprint, byRegion } of answers)
    for (const image of images)
      if (image.fingerprint === fingerprint && recordVouchesFor(byRegion[image.region], image.imageId))
        vouched.add(image.imageId);
  return vouched;
}

export function unvouchedRefusal(ami: string, region: string): string {
  return `${ami} in ${region} has no build record of this bakery (tags alone can be copied onto any image)`;
}
