/**
 * `bake rollback RECIPE --env ENV [--to AMI]`: pin back the image ENV pinned before the current
 * one, per region. The history is the `bake:pinned:<env>` tags across the recipe's images (first
 * pin times): the previous image is the newest pinned there before the current one, passing the
 * same checks as any pin (not revoked, deregistered, deprecated or failed).
 */
import { unvouchedRefusal, vouchedImages } from './vouched-images.js';
import type { ImageRecord } from '../aws/image-record.js';
import { CloudError, UsageError } from '../errors/index.js';
import { imageRefusal } from '../lifecycle/promotion-gates.js';
import { hasPinTargets, recipeInEnvironment, requireEnvironment } from '../recipes/environments.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { BUILT_AT_TAG, FINGERPRINT_TAG, pinnedTag } from '../tags/tag-contract.js';
import {
  bakeryImages,
  disagreementError,
  pinIntoEnvironment,
  readEnvironmentPins,
  type EnvironmentDeps,
  type EnvironmentPinResult,
} from './environment-pins.js';

export interface RollbackReport extends EnvironmentPinResult {
  recipe: string;
  environment: string;
  /** Region → the image pinned before, and the one pinned now. */
  replaced: Record<string, string>;
  amis: Record<string, string>;
}

export async function rollback(
  bakery: Bakery,
  recipe: Recipe,
  options: { environment: string; to?: string; check: boolean },
  deps: EnvironmentDeps,
): Promise<RollbackReport> {
  const { environment } = options;
  requireEnvironment(bakery.config, environment);
  if (!hasPinTargets(recipeInEnvironment(recipe, environment)))
    throw new UsageError(`${recipe.name} has no pin target in ${environment}`);
  const current = await readEnvironmentPins(bakery, recipe, environment, deps.store);
  if (Object.keys(current.disagree).length) throw disagreementError(recipe.name, environment, current);
  const regions = [...new Set(current.values.map((v) => v.region))];
  const images = await bakeryImages(bakery, [recipe], deps.ec2);
  const vouched = await vouchedImages(deps.records, recipe.name, images);
  const now = deps.now();
  const refusal = (image: ImageRecord, region: string) =>
    imageRefusal(image.imageId, region, image, recipe, now) ??
    (vouched.has(image.imageId) ? undefined : unvouchedRefusal(image.imageId, region));
  const chosen: Record<string, string> = {};
  const wanted = options.to ? sameBuildAs(options.to, images, recipe) : undefined;
  for (const region of regions) {
    const inRegion = images.filter((i) => i.region === region);
    const pick = wanted
      ? wanted(region, inRegion)
      : previousPin(inRegion, current.amis[region], environment, (i) => !refusal(i, region));
    if (!pick)
      throw new CloudError(
        `${recipe.name}: no image pinned in ${environment} before ${current.amis[region] ?? '(none)'} in ${region} to roll back to (not revoked, deregistered or failed)`,
      );
    const why = refusal(pick, region);
    if (why) throw new CloudError(`${recipe.name}: not rolled back in ${environment}: ${why}`);
    chosen[region] = pick.imageId;
  }
  const amis = { ...current.amis, ...chosen };
  const pinned = await pinIntoEnvironment(bakery, [{ recipe, amis }], environment, deps, options.check);
  return { recipe: recipe.name, environment, replaced: current.amis, amis: chosen, ...pinned };
}

/**
 * The newest image pinned in `environment` before the current one (by first pin time); with
 * nothing recorded for the current one, the newest pinned there that is not the current one.
 */
function previousPin(
  images: ImageRecord[],
  currentAmi: string | undefined,
  environment: string,
  usable: (image: ImageRecord) => boolean,
): ImageRecord | undefined {
  const key = pinnedTag(environment);
  const pinnedAt = (image: ImageRecord) => image.tags[key] ?? '';
  const currentAt = images.find((i) => i.imageId === currentAmi)?.tags[key];
  return images
    .filter((i) => i.imageId !== currentAmi && pinnedAt(i) !== '' && (!currentAt || pinnedAt(i) < currentAt))
    .filter(usable)
    .sort((a, b) => pinnedAt(b).localeCompare(pinnedAt(a)))[0];
}

/** `--to AMI`: that image, and in the recipe's other regions its copies (same fingerprint and build time). */
function sameBuildAs(
  ami: string,
  images: ImageRecord[],
  recipe: Recipe,
): (region: string, inRegion: ImageRecord[]) => ImageRecord | undefined {
  const named = images.find((i) => i.imageId === ami);
  if (!named)
    throw new CloudError(`${ami} is not an image of ${recipe.name} in this bakery (${recipe.regions.join(', ')})`);
  const build = (i: ImageRecord) => `${i.tags[FINGERPRINT_TAG]}\0${i.tags[BUILT_AT_TAG]}`;
  return (_region, inRegion) =>
    inRegion.find((i) => i.imageId === ami) ?? inRegion.find((i) => build(i) === build(named));
}
