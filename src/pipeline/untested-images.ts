/**
 * Images whose launch test runs in another `bake build` (CI's split: `--launch-test later`, then a
 * run that only tests). Two sides:
 *
 * - `proveAwaitingImage`: the plan found today's image awaiting its launch test (plan.ts
 *   awaitingLaunchTest): the run tests that image instead of baking again, once the image it is
 *   built on passed; if that one failed, the image is discarded, as in-process.
 * - `watchingUntestedParent`: with `--parent-untested`, a recipe bakes on its parent's image while
 *   another job tests it. Its `bake:launch-test` tag is watched (DescribeImages, backing off):
 *   `failed` (or the image gone, or its tag removed) stops the bake with the in-process stop rule
 *   (Packer interrupted, what it made discarded, reported skipped "parent P failed its launch
 *   test"); `passed`, with the parent's build record naming the image, lets its own launch test run.
 */
import { BuildFailure } from '../errors/index.js';
import { recordVouchesFor } from '../tags/build-record.js';
import { sleep } from '../launch-test/remote.js';
import { type RecipeBakeEvents } from './bake-recipe.js';
import { discardImages } from './discard-images.js';
import type { RecipeLog } from './build-log.js';
import type { BuildRun, BuiltImage, PlannedRecipe } from './build-run.js';
import { launchTestOnceParentPassed } from './launch-test-step.js';
import { StoppedByAncestor, type Slot } from './scheduler.js';

/** The watch's pause before look number `attempt`: 2 s, growing by half each time, at most 30 s. */
export function defaultWatchDelayMs(attempt: number): number {
  return Math.min(30_000, Math.round(2_000 * 1.5 ** attempt));
}

/**
 * Tests the image the plan found awaiting its launch test (tags passed or failed, records it when
 * passed). Children in this run may start on it at once, as on a freshly baked image.
 */
export async function proveAwaitingImage(
  run: BuildRun,
  entry: PlannedRecipe,
  signal: AbortSignal,
  log: RecipeLog,
  slot: Slot,
  events: RecipeBakeEvents,
): Promise<BuiltImage> {
  const { region, ami } = entry.awaitingLaunchTest!;
  const image: BuiltImage = { amis: { [region]: ami } };
  if (run.options.launchTestLater) {
    await log.note(`${ami} awaits its launch test already: a later bake build runs it`);
    run.proofs.settle(entry.name, true);
    return image;
  }
  if (!run.deps.launchTest)
    throw new BuildFailure(`${ami} awaits its launch test, and this build runs no launch tests`);
  await log.note(`${ami} has this fingerprint and awaits its launch test: testing it (no new bake)`);
  events.imageFinished(image);
  // A launch test takes no build slot (launch-test-step.ts), here as after a bake.
  slot.release();
  try {
    const launchTest = await launchTestOnceParentPassed(run, entry, image.amis, {}, signal, log);
    return { ...image, launchTest };
  } catch (error) {
    // Built on an image that failed: it must not stay (as a child stopped in-process).
    if (signal.reason instanceof StoppedByAncestor) await discardImages(run, image.amis, log);
    else if (!signal.aborted) events.stopDependents('failed its launch test');
    throw error;
  }
}

/**
 * Runs `step` (the recipe's bake, or the test of its awaiting image) while watching the untested
 * parent image it is built on. The step's signal fires with StoppedByAncestor when that image
 * fails; the step then throws that reason (the build reports the recipe skipped).
 */
export async function watchingUntestedParent<T>(
  run: BuildRun,
  entry: PlannedRecipe,
  signal: AbortSignal,
  log: RecipeLog,
  step: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const parent = entry.untestedParent!;
  const stop = new AbortController();
  const stepSignal = AbortSignal.any([signal, stop.signal]);
  const watching = new AbortController();
  await log.note(`baking on ${parent.ami}, ${parent.recipe}'s image still awaiting its launch test: watching it`);
  const watch = watchParent(run, parent, watching.signal, log).then((verdict) => {
    if (watching.signal.aborted) return; // the step ended first: nothing learned
    run.proofs.settle(parent.recipe, verdict === undefined);
    if (verdict !== undefined) stop.abort(new StoppedByAncestor(`parent ${parent.recipe} ${verdict}`));
  });
  try {
    return await step(stepSignal);
  } catch (error) {
    if (stop.signal.aborted && !signal.aborted) throw stop.signal.reason;
    throw error;
  } finally {
    watching.abort();
    await watch;
  }
}

/**
 * Looks at the parent image until it passed (undefined) or cannot pass any more (why, in words),
 * or until `signal` ends the watch. A look that fails (throttling, the network) is tried again.
 */
async function watchParent(
  run: BuildRun,
  parent: NonNullable<PlannedRecipe['untestedParent']>,
  signal: AbortSignal,
  log: RecipeLog,
): Promise<string | undefined> {
  const { deps } = run;
  if (!deps.imageLaunchTestState) return 'cannot be watched here (no EC2 to ask)';
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const state = await deps.imageLaunchTestState(parent.region, parent.ami);
      if (state === 'failed') return 'failed its launch test';
      if (state === 'gone') return `image ${parent.ami} is gone before its launch test passed`;
      if (state === 'untagged') return `image ${parent.ami} lost its bake:launch-test tag`;
      // The tag is only a claim: passed counts once the parent's build record names the image.
      if (state === 'passed' && (await recorded(run, parent))) {
        await log.note(`${parent.ami} (${parent.recipe}) passed its launch test`);
        return undefined;
      }
    } catch (error) {
      await log.note(`looking at ${parent.ami}: ${(error as Error).message}; looking again`);
    }
    await sleep(deps.watchDelayMs?.(attempt) ?? defaultWatchDelayMs(attempt), signal);
  }
  return 'was not seen to pass (the watch ended)';
}

async function recorded(run: BuildRun, parent: NonNullable<PlannedRecipe['untestedParent']>): Promise<boolean> {
  if (!run.deps.records) return true;
  const query = { recipe: parent.recipe, fingerprint: parent.fingerprint, regions: [parent.region] };
  const found = await run.deps.records.read([query]);
  return recordVouchesFor(found.get(parent.recipe)?.[parent.region], parent.ami);
}
