/**
 * The distribution step of `bake build`: the build region's image copied to the recipe's other
 * regions, with its sharing, IMDSv2 and deprecation applied everywhere (src/lifecycle/distribute.ts).
 * A region failing fails the recipe; the images made stay tagged. Without a distribute effect,
 * the images in Packer's manifest are all there is.
 */
import { BuildFailure } from '../errors/index.js';
import { recordBuiltImages } from './record-build.js';
import type { RecipeLog } from './build-log.js';
import type { BuildRun, BuiltImage, PlannedRecipe } from './build-run.js';

export async function distributeRecipe(
  run: BuildRun,
  entry: PlannedRecipe,
  image: BuiltImage,
  signal: AbortSignal,
  log: RecipeLog,
): Promise<BuiltImage> {
  const { deps, options } = run;
  const missing = entry.recipe.regions.filter((region) => !image.amis[region]);
  if ((image.bakedElsewhere && !image.finishDistribution) || options.distribute === false) return image;
  if (!deps.distribute) {
    if (missing.length) throw new BuildFailure(`Packer's manifest has no image for ${missing.join(', ')}`);
    return image;
  }
  if (entry.distributeOnly && !image.baked) {
    const { ami, region } = entry.distributeOnly;
    await log.note(`${ami} (${region}) has this fingerprint already: distributing it, not baking`);
  }
  // Cross-region copies can take long: an interrupted run leaves them to the next one, which copies only what is missing.
  if (signal.aborted && missing.length) throw new BuildFailure(`interrupted before copying to ${missing.join(', ')}`);
  const result = await deps.distribute({
    recipe: entry.recipe,
    amis: image.amis,
    ...image.baked,
    now: deps.now(),
    signal,
    log: log.note,
  });
  // The copies bake made are bake's images too: recorded like the one they were copied from.
  await recordBuiltImages(run, entry, result.amis, log);
  return { amis: result.amis };
}
