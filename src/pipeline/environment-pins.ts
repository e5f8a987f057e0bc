/**
 * An environment's pins, read and written with the pin machinery (pin.ts, pin-ssm.ts):
 * promotion, rollback and revoke are all "pin these exact ids into ENV's targets". What the
 * targets hold is the truth about what is deployed; each image pinned is recorded on the image
 * (`bake:pinned:<env>`, the first time only) for soak and for the history rollback reads.
 */
import type { BuildRecords } from '../aws/build-records.js';
import path from 'node:path';
import type { ImageRecord } from '../aws/image-record.js';
import type { LifecycleEc2 } from '../aws/image-lifecycle.js';
import type { ParameterStore } from '../aws/ssm-parameters.js';
import { CloudError } from '../errors/index.js';
import { hasPinTargets, recipeInEnvironment } from '../recipes/environments.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { isOwnImage, pinnedTag } from '../tags/tag-contract.js';
import { readTfvarsPinValues, type PinnedValue } from '../tfvars/pinned-values.js';
import { pinImages, pinRootsOf, type PinFileResult, type PinRequest } from './pin.js';
import { pinSsmParameters, readSsmPinValues, type SsmPinResult } from './pin-ssm.js';

/** The edges promote, rollback and revoke work through. */
export interface EnvironmentDeps {
  ec2: LifecycleEc2;
  store: ParameterStore;
  /** What bake vouches for: promote and rollback pin only recorded images (src/pipeline/vouched-images.ts). */
  records: Pick<BuildRecords, 'read'>;
  now: () => Date;
}

/** What one environment's targets of a recipe hold: region → the one AMI id they agree on. */
export interface EnvironmentPins {
  /** Every target and region, as read. */
  values: PinnedValue[];
  /** Region → AMI, where every target of that region holds the same id. */
  amis: Record<string, string>;
  /** Regions whose targets hold nothing, or disagree (the ids). */
  empty: string[];
  disagree: Record<string, string[]>;
}

export async function readEnvironmentPins(
  bakery: Bakery,
  recipe: Recipe,
  environment: string | undefined,
  store: ParameterStore,
): Promise<EnvironmentPins> {
  const scoped = recipeInEnvironment(recipe, environment);
  const label = (file: string) => path.relative(bakery.root, file) || file;
  const values = [...(await readTfvarsPinValues(scoped, label)), ...(await readSsmPinValues(scoped, store))];
  const byRegion = new Map<string, Set<string | undefined>>();
  for (const value of values) byRegion.set(value.region, (byRegion.get(value.region) ?? new Set()).add(value.ami));
  const amis: Record<string, string> = {};
  const empty: string[] = [];
  const disagree: Record<string, string[]> = {};
  for (const [region, held] of byRegion) {
    const ids = [...held].filter((ami): ami is string => ami !== undefined);
    if (held.size === 1 && ids.length === 1) amis[region] = ids[0];
    else if (ids.length === 0) empty.push(region);
    else disagree[region] = [...held].map((ami) => ami ?? '(none)');
  }
  return { values, amis, empty, disagree };
}

export interface EnvironmentPinResult {
  files: PinFileResult[];
  parameters: SsmPinResult[];
}

/**
 * Writes `amis` into the recipe's targets of `environment` (tfvars, then SSM); unless
 * `check`, records the pin on each image. `amis` must hold every region the targets need.
 */
export async function pinIntoEnvironment(
  bakery: Bakery,
  requests: PinRequest[],
  environment: string | undefined,
  deps: EnvironmentDeps,
  check: boolean,
): Promise<EnvironmentPinResult> {
  const scoped = requests
    .map((r) => ({ recipe: recipeInEnvironment(r.recipe, environment), amis: r.amis }))
    .filter((r) => hasPinTargets(r.recipe));
  const files = await pinImages(
    scoped.filter((r) => r.recipe.pin.length > 0),
    { check, roots: pinRootsOf(bakery) },
  );
  const parameters = await pinSsmParameters(scoped, deps.store, { check });
  if (!check && environment !== undefined) await recordPins(deps.ec2, environment, scoped, deps.now());
  return { files, parameters };
}

/**
 * Tags `bake:pinned:<env>` on each pinned image that does not carry it yet: the first pin time
 * is what soak measures and what orders an environment's history.
 */
export async function recordPins(
  ec2: Pick<LifecycleEc2, 'describeImages' | 'tagImage'>,
  environment: string,
  requests: PinRequest[],
  now: Date,
): Promise<void> {
  const byRegion = new Map<string, Set<string>>();
  for (const { recipe, amis } of requests)
    for (const region of recipe.regions)
      if (amis[region]) byRegion.set(region, (byRegion.get(region) ?? new Set()).add(amis[region]));
  const key = pinnedTag(environment);
  for (const [region, ids] of byRegion) {
    for (const image of await ec2.describeImages(region, [...ids]))
      if (image.tags[key] === undefined) await ec2.tagImage(region, image.imageId, { [key]: now.toISOString() });
  }
}

/** This bakery's images of these recipes in their regions, newest first (one listing per region). */
export async function bakeryImages(bakery: Bakery, recipes: Recipe[], ec2: LifecycleEc2): Promise<ImageRecord[]> {
  const names = new Set(bakery.recipes.map((r) => r.name));
  const wanted = new Set(recipes.map((r) => r.name));
  const regions = [...new Set(recipes.flatMap((r) => r.regions))];
  const lists = await Promise.all(regions.map((region) => ec2.listBakedImages(region)));
  return lists
    .flat()
    .filter((image) => wanted.has(image.recipe) && isOwnImage(image.tags, bakery.config.bakery, names))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** A one-line refusal when an environment's targets of a recipe hold different ids in one region. */
export function disagreementError(recipe: string, environment: string | undefined, pins: EnvironmentPins): CloudError {
  const [region, ids] = Object.entries(pins.disagree)[0];
  return new CloudError(
    `${recipe}: the pin targets of ${environment ?? 'the bakery'} hold different images in ${region} (${ids.join(', ')}); pin them alike first`,
  );
}
