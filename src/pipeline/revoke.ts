/**
 * `bake revoke IMAGE|RECIPE [--reason TEXT]`: the image (with its copies in the other regions)
 * and every image of this bakery built FROM it, all levels down the `bake:parent` chain, are
 * tagged revoked (when, who, why) and deprecated now in every region. Then every environment
 * whose targets pin a revoked image is rolled back to the newest earlier image of that recipe
 * that is not revoked and passed its launch test; where there is none, the target is left as it
 * is and reported (the command then exits 1).
 */
import type { ImageRecord } from '../aws/image-record.js';
import { CloudError } from '../errors/index.js';
import { imageRefusal } from '../lifecycle/promotion-gates.js';
import { hasPinTargets, recipeInEnvironment } from '../recipes/environments.js';
import type { Bakery } from '../recipes/model.js';
import {
  BUILT_AT_TAG,
  FINGERPRINT_TAG,
  PARENT_TAG,
  REVOKED_BY_TAG,
  REVOKED_REASON_TAG,
  REVOKED_TAG,
  fitTagValue,
  isRevoked,
} from '../tags/tag-contract.js';
import { AMI_ID } from '../tfvars/pinned-values.js';
import { bakeryImages, pinIntoEnvironment, readEnvironmentPins, type EnvironmentDeps } from './environment-pins.js';

export interface RevokeOptions {
  /** An AMI id of this bakery, or a recipe name (its newest image that is not revoked). */
  target: string;
  reason?: string;
  by: string;
  check: boolean;
}

export interface RevokedImage {
  recipe: string;
  region: string;
  imageId: string;
  /** Revoked by this run (false: it already was). */
  newly: boolean;
}

export interface PinMove {
  recipe: string;
  environment?: string;
  region: string;
  from: string;
  /** undefined: no earlier usable image; the target is left pinning the revoked one. */
  to?: string;
}

export interface RevokeReport {
  revoked: RevokedImage[];
  moves: PinMove[];
}

export async function revoke(bakery: Bakery, options: RevokeOptions, deps: EnvironmentDeps): Promise<RevokeReport> {
  const images = await bakeryImages(bakery, bakery.recipes, deps.ec2);
  const now = deps.now();
  const revoked = revokedSet(images, firstImages(bakery, images, options.target));
  const already = new Set(revoked.filter((i) => isRevoked(i.tags)).map((i) => i.imageId));

  if (!options.check) {
    const tags = {
      [REVOKED_TAG]: now.toISOString(),
      [REVOKED_BY_TAG]: fitTagValue(options.by),
      ...(options.reason?.trim() && { [REVOKED_REASON_TAG]: fitTagValue(options.reason.trim()) }),
    };
    for (const image of revoked.filter((i) => !isRevoked(i.tags))) {
      await deps.ec2.tagImage(image.region, image.imageId, tags);
      image.tags = { ...image.tags, ...tags };
      const deprecated = image.deprecationTime && Date.parse(image.deprecationTime) <= now.getTime();
      if (!deprecated) await deps.ec2.deprecate(image.region, image.imageId, now);
    }
  }

  const revokedIds = new Set(revoked.map((i) => i.imageId));
  const moves: PinMove[] = [];
  const environments: Array<string | undefined> = bakery.config.environments.length
    ? bakery.config.environments
    : [undefined];
  for (const environment of environments) {
    for (const recipe of bakery.recipes.filter((r) => hasPinTargets(recipeInEnvironment(r, environment)))) {
      const pins = await readEnvironmentPins(bakery, recipe, environment, deps.store);
      const recipeMoves: PinMove[] = [];
      for (const [region, ami] of Object.entries(pins.amis)) {
        if (!revokedIds.has(ami)) continue;
        const pinned = images.find((i) => i.imageId === ami)!;
        const earlier = byBuildTime(images).find(
          (i) =>
            i.recipe === recipe.name &&
            i.region === region &&
            !revokedIds.has(i.imageId) &&
            builtAt(i) < builtAt(pinned) &&
            !imageRefusal(i.imageId, region, i, recipe, now),
        );
        recipeMoves.push({ recipe: recipe.name, environment, region, from: ami, to: earlier?.imageId });
      }
      moves.push(...recipeMoves);
      const replacements = Object.fromEntries(recipeMoves.filter((m) => m.to).map((m) => [m.region, m.to!]));
      if (Object.keys(replacements).length)
        await pinIntoEnvironment(
          bakery,
          [{ recipe, amis: { ...pins.amis, ...replacements } }],
          environment,
          deps,
          options.check,
        );
    }
  }
  return {
    revoked: revoked.map((i) => ({
      recipe: i.recipe,
      region: i.region,
      imageId: i.imageId,
      newly: !already.has(i.imageId),
    })),
    moves,
  };
}

/** When the image was baked (its copies carry the original's time): bake:built-at, else EC2's creation time. */
const builtAt = (image: ImageRecord) => image.tags[BUILT_AT_TAG] ?? image.createdAt;
const byBuildTime = (images: ImageRecord[]) => [...images].sort((a, b) => builtAt(b).localeCompare(builtAt(a)));

/** The image named (an AMI id, with its copies), or the recipe's newest image that is not revoked. */
function firstImages(bakery: Bakery, images: ImageRecord[], target: string): ImageRecord[] {
  let named: ImageRecord | undefined;
  if (AMI_ID.test(target)) {
    named = images.find((i) => i.imageId === target);
    if (!named) throw new CloudError(`${target} is not an image of this bakery (bake:bakery ${bakery.config.bakery})`);
  } else {
    const recipe = bakery.recipes.find((r) => r.name === target);
    if (!recipe) throw new CloudError(`${target} is neither an AMI id nor a recipe of this bakery`);
    named = byBuildTime(images).find(
      (i) => i.recipe === target && i.region === recipe.regions[0] && !isRevoked(i.tags),
    );
    if (!named) throw new CloudError(`${target} has no image to revoke in ${recipe.regions[0]}`);
  }
  return copiesOf(images, named);
}

/** The same build in every region: the copies carry the recipe, fingerprint and build time of the original. */
function copiesOf(images: ImageRecord[], image: ImageRecord): ImageRecord[] {
  const build = (i: ImageRecord) => `${i.recipe}\0${i.tags[FINGERPRINT_TAG]}\0${i.tags[BUILT_AT_TAG]}`;
  return images.filter((i) => i.imageId === image.imageId || build(i) === build(image));
}

/** The images and, down the bake:parent chain, every image built FROM one of them (and their copies). */
function revokedSet(images: ImageRecord[], first: ImageRecord[]): ImageRecord[] {
  const set = new Map(first.map((i) => [i.imageId, i]));
  let grew = true;
  while (grew) {
    grew = false;
    for (const image of images) {
      if (set.has(image.imageId) || !set.has(image.tags[PARENT_TAG] ?? '')) continue;
      for (const copy of copiesOf(images, image)) set.set(copy.imageId, copy);
      grew = true;
    }
  }
  return [...set.values()];
}
