/**
 * The real edges of `bake images`: one listing of bake's images per region (shared with the
 * plan that finds today's fingerprints), the pin targets' values (tfvars on disk, SSM), and a
 * lookup of pinned ids bake's listing does not hold (deleted, or not bake's).
 */
import path from 'node:path';
import { cachedClients, existingImageIds } from '../aws/image-catalog.js';
import type { ImageRecord } from '../aws/image-record.js';
import type { AwsSettings } from '../aws/settings.js';
import { createParameterStore } from '../aws/ssm-parameters.js';
import { readTfvarsPinValues, type PinnedValue } from '../tfvars/pinned-values.js';
import { readSsmPinValues } from '../pipeline/pin-ssm.js';
import { planBakery } from '../pipeline/plan.js';
import { productionPlanDeps } from '../pipeline/plan-deps.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { imageInventory, type Inventory } from './inventory.js';

export async function bakeryInventory(
  bakery: Bakery,
  recipes: Recipe[],
  aws: AwsSettings,
  now: Date,
  maxPendingAgeMs?: number,
): Promise<Inventory> {
  const deps = await productionPlanDeps(bakery, aws);
  let listed: Promise<ImageRecord[]> | undefined;
  const catalog = { listBakedImages: (regions: string[]) => (listed ??= deps.catalog.listBakedImages(regions)) };
  const plan = await planBakery(bakery, recipes, { ...deps, catalog });
  const images = await (listed ?? Promise.resolve([]));
  const asked = new Set(recipes.map((r) => r.name));
  const entries = plan.recipes.filter((entry) => asked.has(entry.name));

  const label = (file: string) => {
    const relative = path.relative(bakery.root, file);
    return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
  };
  const store = createParameterStore(aws);
  const pins = new Map<string, PinnedValue[]>();
  try {
    for (const { recipe } of entries)
      pins.set(recipe.name, [
        ...(await readTfvarsPinValues(recipe, label)),
        ...(await readSsmPinValues(recipe, store)),
      ]);
  } finally {
    store.close();
  }

  const existing = new Set(images.filter((i) => i.state !== 'deregistered').map((i) => i.imageId));
  const unknownByRegion = new Map<string, string[]>();
  for (const pin of [...pins.values()].flat()) {
    if (pin.ami && !existing.has(pin.ami))
      unknownByRegion.set(pin.region, [...(unknownByRegion.get(pin.region) ?? []), pin.ami]);
  }
  const clients = cachedClients(aws);
  for (const [region, ids] of unknownByRegion)
    for (const id of await existingImageIds(clients(region), region, ids)) existing.add(id);

  return imageInventory({
    entries,
    images,
    pins,
    existing,
    now,
    maxPendingAgeMs,
    environments: bakery.config.environments,
  });
}
