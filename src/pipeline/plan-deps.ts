/**
 * The real edges of `bake plan`, wired once: bake's images and base images from EC2 (or the
 * endpoint given), content ids and history from git when the bakery is a git checkout.
 */
import { resolveBaseImage } from '../aws/base-image.js';
import { createImageCatalog } from '../aws/image-catalog.js';
import { createBuildRecords } from '../aws/build-records.js';
import type { ImageCatalog } from '../aws/image-record.js';
import type { AwsSettings } from '../aws/settings.js';
import { isOwnImage } from '../tags/tag-contract.js';
import { gitContentIds, hashedContentIds, isGitWorkTree } from '../fingerprint/content-ids.js';
import { gitHistory, noHistory } from '../fingerprint/history.js';
import type { Bakery } from '../recipes/model.js';
import { watchedFolders } from '../fingerprint/fingerprint.js';
import type { PlanDeps } from './plan.js';

/** The catalog as this bakery sees it: its own images only, and those tagged with its legacy name (src/recipes/bakery-name.ts). */
export function ownImages(catalog: ImageCatalog, bakery: Bakery): ImageCatalog {
  const recipes = new Set(bakery.recipes.map((r) => r.name));
  return {
    listBakedImages: async (regions) =>
      (await catalog.listBakedImages(regions)).filter((image) =>
        isOwnImage(image.tags, bakery.config.bakery, recipes, bakery.config.bakeryLegacyName),
      ),
  };
}

export async function productionPlanDeps(bakery: Bakery, aws: AwsSettings): Promise<PlanDeps> {
  const inGit = await isGitWorkTree(bakery.root);
  return {
    catalog: ownImages(createImageCatalog(aws), bakery),
    records: createBuildRecords(aws, bakery.config.bakery),
    resolveBase: (base, region) => resolveBaseImage(aws, base, region),
    contentIds: inGit ? gitContentIds(bakery.root) : hashedContentIds(bakery.root),
    history: inGit ? gitHistory(bakery.root, watchedFolders(bakery)) : noHistory(bakery.root),
  };
}
