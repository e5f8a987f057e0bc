/**
 * The build's launch-test step, between Packer and distribution: the new image in the build region
 * is booted and checked (src/launch-test/) before it is copied, shared or pinned. Its outcome is
 * recorded on the image as `bake:launch-test` (passed | failed); until then the image carries
 * `pending`, so an image whose test never finished (a killed agent) is never taken as current.
 */
import { BakeError, BuildFailure } from '../errors/index.js';
import type { LaunchTestResult } from '../launch-test/launch-test.js';
import type { Recipe } from '../recipes/model.js';
import { LAUNCH_TEST_TAG } from '../tags/tag-contract.js';
import { scanTags } from '../scan/scan-tags.js';
import type { RecipeLog } from './build-log.js';
import type { BuildRun, LaunchTestCall, PlannedRecipe } from './build-run.js';
import { untilAborted } from './launch-proofs.js';
import { recordBuiltImages } from './record-build.js';

/** Why the plan does not reuse an image of today's fingerprint because of its launch test. */
export function launchTestReason(imageId: string, value: string | undefined): string | undefined {
  if (value === 'failed') return `image ${imageId} with this fingerprint failed its launch test`;
  if (value === 'pending') return `image ${imageId} with this fingerprint has no finished launch test`;
  return undefined;
}

/** A launch test that did not pass: the recipe fails, and the result travels to the report. */
export class LaunchTestFailure extends BuildFailure {
  constructor(readonly launchTest: LaunchTestResult) {
    super(launchTest.error ?? `launch test ${launchTest.status}`);
  }
}

export function launchTestOf(error: unknown): LaunchTestResult | undefined {
  return error instanceof LaunchTestFailure ? error.launchTest : undefined;
}

export interface LaunchTestStepDeps {
  launchTest(request: LaunchTestCall): Promise<LaunchTestResult>;
  tagImage(region: string, imageId: string, tags: Record<string, string>): Promise<void>;
}

/**
 * Tests `imageId` (the build region's new image) and tags the outcome on it. Returns the passed
 * result; throws LaunchTestFailure otherwise (the image keeps `failed`, or `pending` when interrupted).
 */
export async function launchTestNewImage(
  recipe: Recipe,
  region: string,
  imageId: string,
  deps: LaunchTestStepDeps,
  context: { signal: AbortSignal; log(line: string): Promise<void> },
): Promise<LaunchTestResult> {
  let result: LaunchTestResult;
  try {
    result = await deps.launchTest({ recipe, region, imageId, signal: context.signal, log: context.log });
  } catch (error) {
    // A user-data template that does not render: nothing was launched; the image is not proven.
    await deps.tagImage(region, imageId, { [LAUNCH_TEST_TAG]: 'failed' });
    throw error instanceof BakeError
      ? error
      : new BuildFailure(`launch test could not run: ${(error as Error).message}`);
  }
  if (result.status === 'interrupted') throw new LaunchTestFailure(result);
  await deps.tagImage(region, imageId, { [LAUNCH_TEST_TAG]: result.status, ...securityScanTags(result) });
  await context.log(`tagged ${imageId} ${LAUNCH_TEST_TAG}=${result.status}`);
  if (result.status !== 'passed') throw new LaunchTestFailure(result);
  return result;
}

/**
 * The build's launch-test step for a freshly baked image: before children start on it and before
 * any copy, so a failed image goes nowhere. `tags` (what the distribution copies) get the result.
 */
export async function launchTestBakedImage(
  run: BuildRun,
  entry: PlannedRecipe,
  imageId: string,
  tags: Record<string, string>,
  signal: AbortSignal,
  log: RecipeLog,
): Promise<LaunchTestResult> {
  if (signal.aborted) throw new BuildFailure(`interrupted before the launch test of ${imageId}`);
  const region = entry.recipe.regions[0];
  const result = await launchTestNewImage(
    entry.recipe,
    region,
    imageId,
    { launchTest: run.deps.launchTest!, tagImage: run.deps.tagImage },
    { signal, log: log.note },
  );
  tags[LAUNCH_TEST_TAG] = result.status;
  Object.assign(tags, securityScanTags(result));
  return result;
}

/** After an `upgrade:` build, the launch test's scan is the new image's first scan (plan reads it as `bake scan`'s). */
function securityScanTags(result: LaunchTestResult): Record<string, string> {
  const scan = result.security_scan;
  return scan ? scanTags(scan.scanned_at, scan.pending, undefined) : {};
}

/**
 * The launch test of the recipe's image in its build region, once the image it is built on passed
 * (nothing built on a failed image is ever tagged passed); then bake vouches for it: its build
 * record, and its proof settled for what waits on it. Any failure settles the proof as failed.
 * No build slot: a test instance only boots and answers a few checks over SSH (no Ansible on this
 * agent), and one taken behind the bakes of shorter chains would hold up every child of the image.
 */
export async function launchTestOnceParentPassed(
  run: BuildRun,
  entry: PlannedRecipe,
  amis: Record<string, string>,
  tags: Record<string, string>,
  signal: AbortSignal,
  log: RecipeLog,
): Promise<LaunchTestResult> {
  try {
    if (!(await untilAborted(run.proofs.parentChain(entry.name), signal)))
      throw new BuildFailure(`the image ${entry.name} is built on did not pass its launch test`);
    const result = await launchTestBakedImage(run, entry, amis[entry.recipe.regions[0]], tags, signal, log);
    // Only now does bake vouch for it: a failed launch test threw above, and a forged tag never gets here.
    await recordBuiltImages(run, entry, amis, log);
    run.proofs.settle(entry.name, true);
    return result;
  } catch (error) {
    run.proofs.settle(entry.name, false);
    throw error;
  }
}
