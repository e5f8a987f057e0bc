/**
 * The distribution step of `bake build`: the build region's image copied to the recipe's other
 * regions, with its sharing, IMDSv2 and deprecation applied everywhere (src/lifecycle/distribute.ts).
 * A region failing fails the recipe; the images made stay tagged. Without a distribute effect,
 * the images in Packer's manifest are all there is.
 *
 * An image this run baked is copied speculatively: the step starts as soon as the image is
 * finished, while its launch test (and those up its chain) still run. Its copies start at once,
 * tagged `bake:launch-test=pending` like their source, and the children built in their regions
 * start on them once available; what publishes the image (the test's outcome on the copies,
 * sharing, IMDSv2, deprecation) waits until every image it is built on passed. If one does not,
 * or the run is interrupted before that, every copy made — available or still pending — is
 * deregistered with its snapshots: nothing copied from an unproven image stays.
 */
import { BuildFailure } from '../errors/index.js';
import { DistributionError, type DistributionResult } from '../lifecycle/distribute.js';
import { recordBuiltImages } from './record-build.js';
import type { RecipeLog } from './build-log.js';
import type { DistributionEvents } from './build-nodes.js';
import { amiList, type BuildRun, type BuiltImage, type PlannedRecipe } from './build-run.js';
import { discardImages } from './discard-images.js';
import { untilAborted } from './launch-proofs.js';

const noChildren: DistributionEvents = { childRegions: [], copiesReady: () => {} };

export async function distributeRecipe(
  run: BuildRun,
  entry: PlannedRecipe,
  image: BuiltImage,
  signal: AbortSignal,
  log: RecipeLog,
  events: DistributionEvents = noChildren,
): Promise<BuiltImage> {
  const { deps, options } = run;
  const missing = entry.recipe.regions.filter((region) => !image.amis[region]);
  const speculative = Boolean(image.baked && deps.distribute && options.distribute !== false);
  // Nothing else starts before the image (and its chain) passed the launch test.
  if (!speculative && !(await untilAborted(run.proofs.chain(entry.name), signal)))
    throw new BuildFailure(`${entry.name}'s image, or one it is built on, did not pass its launch test`);
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
  const publishable = speculative ? publishableTags(run, entry, image.baked!.tags, signal) : undefined;
  // Refused or not, it is awaited by the distribution: never an unhandled rejection.
  publishable?.catch(() => {});
  if (speculative && missing.length)
    await log.note(`copying to ${missing.join(', ')} while the launch tests run; published once they passed`);
  const waitingFor = new Set(events.childRegions);
  let result: DistributionResult | undefined;
  try {
    result = await deps.distribute({
      recipe: entry.recipe,
      amis: image.amis,
      ...image.baked,
      now: deps.now(),
      signal,
      log: log.note,
      publishable,
      onAvailable: (region, ami) => {
        run.copies.set(entry.name, { ...run.copies.get(entry.name), [region]: ami });
        if (waitingFor.delete(region) && waitingFor.size === 0) events.copiesReady();
      },
    });
    // Whatever the distribution did, nothing is recorded (nor pinned) before the image is proven.
    await publishable;
  } catch (error) {
    const made = error instanceof DistributionError ? error.amis : (result?.amis ?? {});
    await discardUnproven(run, entry, image, made, log);
    throw error;
  }
  // The copies bake made are bake's images too: recorded like the one they were copied from.
  await recordBuiltImages(run, entry, result.amis, log);
  return { amis: result.amis };
}

/** The image's tags once it and its chain passed their launch tests (what its copies then carry); refused otherwise. */
async function publishableTags(
  run: BuildRun,
  entry: PlannedRecipe,
  tags: Record<string, string>,
  signal: AbortSignal,
): Promise<Record<string, string>> {
  if (!(await untilAborted(run.proofs.chain(entry.name), signal)))
    throw new BuildFailure(`${entry.name}'s image, or one it is built on, did not pass its launch test`);
  // The launch test step wrote its outcome into these tags before settling the proof.
  return { ...tags };
}

/**
 * After a failed or stopped distribution: the copies it made of an image that is not proven are
 * removed (a copy of a proven image stays, for the next run to take over and finish).
 */
async function discardUnproven(
  run: BuildRun,
  entry: PlannedRecipe,
  image: BuiltImage,
  amis: Record<string, string>,
  log: RecipeLog,
): Promise<void> {
  const made = Object.fromEntries(Object.entries(amis).filter(([region]) => !image.amis[region]));
  if (Object.keys(made).length === 0) return;
  // Every link of the chain settles once its bake ends: interrupted or stopped, it is not proven.
  if (await run.proofs.chain(entry.name)) {
    await log.note(`copies ${amiList(made)} stay: their source passed its launch test, the next run finishes them`);
    return;
  }
  run.copies.delete(entry.name);
  await log.note(`removing the copies of an image that did not pass its launch test: ${amiList(made)}`);
  await discardImages(run, made, log);
}
