import { createBuildRecords } from '../../src/aws/build-records.js';

/**
 * What `bake build` writes once an image passed its launch test (src/pipeline/record-build.ts):
 * tests that seed images the way a build leaves them record them too; a tagged copy alone is
 * what tag poisoning looks like, and plan no longer reuses it.
 */
export async function recordAsBuilt(
  cloud: { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } },
  bakery: string,
  image: { recipe: string; fingerprint: string; region: string; imageId: string },
): Promise<void> {
  const records = createBuildRecords({ endpoint: cloud.endpoint, credentials: cloud.credentials }, bakery);
  try {
    await records.write(image.recipe, image.fingerprint, image.region, {
      imageId: image.imageId,
      runId: 'test-seed',
      recordedAt: new Date().toISOString(),
    });
  } finally {
    records.close();
  }
}
