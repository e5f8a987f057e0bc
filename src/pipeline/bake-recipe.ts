/**
 * The bake step of `bake build`: one recipe through Packer in its build region, on its base image
 * or its parent's new image; the images tagged in every region Packer made one (even when the run
 * is being interrupted: an untagged image is invisible to plan and prune); its package manifest
 * kept; then its launch test (src/pipeline/launch-test-step.ts), before anything is copied. All
 * that starts as soon as Packer's image is finished, while Packer still cleans up. The children
 * (and the distribution, which waits for the launch test before copying anything) are told once
 * the image is tagged: they bake on it while its launch test runs; if the test fails, they are
 * stopped and discard what they made. The bake ends when Packer has exited.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildFailure } from '../errors/index.js';
import { IMAGE_SBOM_PATH } from '../sbom/image-sbom-path.js';
import { withSecretsFile } from '../secrets/secrets-file.js';
import { launchTestEnabled } from '../launch-test/launch-test.js';
import type { RecipeLog } from './build-log.js';
import { parentOf, type BuildRun, type BuiltImage, type PlannedRecipe, type RenderedForBuild } from './build-run.js';
import { amiDescription, imageTags } from './build-tags.js';
import { architectureOfRecipe, recipeNameOf } from '../recipes/architectures.js';
import { LAUNCH_TEST_TAG } from '../tags/tag-contract.js';
import { recordBuiltImages, recordUntestedImage } from './record-build.js';
import { launchTestOnceParentPassed } from './launch-test-step.js';
import { StoppedByAncestor, type Slot } from './scheduler.js';
import type { LaunchTestResult } from '../launch-test/launch-test.js';
import { workDirOf } from './work-dir.js';
import { discardImages } from './discard-images.js';
import { untilAborted } from './launch-proofs.js';
import { finishedImageReader } from '../packer/image-ready.js';

/** bake's SBOM writer, which Ansible runs at the end of the playbook (src/packer/playbook.ts). */
const SBOM_WRITER = fileURLToPath(new URL('../sbom/write-sbom.js', import.meta.url));

/**
 * Packer saying it stops the build instance (both shapes, `==>` marks Packer's own lines): from
 * here on the bake only waits for EC2 (stop, snapshot, terminate), so it gives its slot back.
 */
const PACKER_STOPPING = /^==> [^:]+: (Stopping the source instance|Waiting for the instance to stop)/;

/** The image Packer starts from, and the ones the tags name. */
interface SourceImages {
  sourceAmi: string;
  /** The image the chain of parents started from: what `bake:base-ami` records. */
  baseAmi: string;
  parentAmi?: string;
}

function sourceImagesOf(run: BuildRun, entry: PlannedRecipe): SourceImages {
  const buildRegion = entry.recipe.regions[0];
  const parent = parentOf(entry);
  let sourceAmi = entry.baseAmi;
  let parentAmi: string | undefined;
  if (parent) {
    const parentEntry = run.graph.get(parent);
    const parentImages = run.built.get(parent)?.amis ?? parentEntry?.amis;
    // In another build region than its parent's: the parent's copy there, once available (maybe still unpublished).
    parentAmi =
      parentImages?.[buildRegion] ?? run.copies.get(parent)?.[buildRegion] ?? (parentEntry ? undefined : entry.baseAmi);
    if (!parentAmi)
      throw new BuildFailure(`parent recipe ${parent} has no image in ${buildRegion}, where ${entry.name} is built`);
    sourceAmi = parentAmi;
  }
  if (!sourceAmi) throw new BuildFailure(`no base image resolved for ${entry.name} in ${buildRegion}`);
  const rootBaseAmi = run.graph.rootOf(entry.name)?.baseAmi || entry.baseAmi;
  return { sourceAmi, baseAmi: rootBaseAmi || sourceAmi, parentAmi };
}

/** What a bake tells the build: its image is finished (children may start), or it failed its launch test. */
export interface RecipeBakeEvents {
  imageFinished(image: BuiltImage): void;
  stopDependents(reason: string): void;
}

export async function bakeRecipe(
  run: BuildRun,
  entry: PlannedRecipe,
  signal: AbortSignal,
  log: RecipeLog,
  slot: Slot,
  events: RecipeBakeEvents,
): Promise<BuiltImage> {
  const { bakery, deps, options } = run;
  const recipe = entry.recipe;
  const buildRegion = recipe.regions[0];
  const { sourceAmi, baseAmi, parentAmi } = sourceImagesOf(run, entry);

  const rendered = await (run.renderedAhead?.get(entry.name) ?? deps.render(recipe, workDirOf(bakery.root, run.runId)));
  const builtAt = deps.now().toISOString();
  // Best effort: an image baked without a manifest is still an image.
  await deps.packageManifests?.clear(rendered.dir);
  const varFile = path.join(rendered.dir, `${entry.name}.pkrvars.hcl`);
  const finishedImage = finishedImageReader();
  let imageSeen: (ami: string) => void = () => {};
  const seen = new Promise<string>((resolve) => (imageSeen = resolve));
  const runPacker = async (secretsFile?: string) => {
    await deps.writeVariables(varFile, {
      source_ami: sourceAmi,
      fingerprint: entry.fingerprint,
      git_commit: run.gitCommit,
      built_at: builtAt,
      build_url: options.buildUrl ?? '',
      base_ami: baseAmi,
      parent_ami: parentAmi ?? '',
      node_bin: process.execPath,
      sbom_writer: SBOM_WRITER,
      ...(secretsFile && { secrets_file: secretsFile }),
    });
    await deps.runPacker({
      templateDir: rendered.dir,
      templateFile: rendered.template,
      varFile,
      logFile: log.file,
      env: options.packerEnv,
      signal,
      onLine: (line) => {
        if (PACKER_STOPPING.test(line)) slot.release();
        const ami = finishedImage(line);
        if (ami) imageSeen(ami);
        run.progress.line(entry.name, line);
      },
    });
  };
  let packer: Promise<void>;
  if (recipe.secrets?.length) {
    const values = run.secrets.get(entry.name);
    if (!values)
      throw new BuildFailure(`the secrets of ${entry.name} were not read: this build cannot pass them to its roles`);
    packer = withSecretsFile(values, runPacker);
  } else {
    packer = runPacker();
  }

  // Packer's image is finished when Packer starts cleaning up after it (src/packer/image-ready.ts):
  // from then on it is tagged and handed to the children and the copies while Packer terminates
  // its instance and the launch test runs. Packer's manifest, read once it has exited, must name
  // the same image. (Only when bake distributes: then Packer makes the build region's image and nothing else.)
  const early = deps.distribute ? await Promise.race([seen, packer.then(() => undefined)]) : await packer;
  let made: MadeImage | undefined;
  try {
    if (early)
      await log.note(`${early} is finished while Packer cleans up: tagging it, then its children and copies may start`);
    const amis = early ? { [buildRegion]: early } : await deps.readManifest(rendered.manifest);
    made = { amis, builtAt, baseAmi, parentAmi, rendered };
    const image = await tagImages(run, entry, made, log);
    events.imageFinished(image);
    image.launchTest = await proveImage(run, entry, image, signal, log, events.stopDependents);
    if (!early) return image;
    await packer;
    const manifest = await deps.readManifest(rendered.manifest);
    if (manifest[buildRegion] !== early)
      throw new BuildFailure(
        `Packer's manifest names ${manifest[buildRegion] ?? 'no image'} in ${buildRegion}, but its output named ${early} (${rendered.manifest})`,
      );
    return image;
  } catch (error) {
    // Built on a parent image that failed its launch test: what this bake made must not stay.
    if (made && signal.reason instanceof StoppedByAncestor) await discardImages(run, made.amis, log);
    throw error;
  } finally {
    // Packer never outlives its bake, whatever happened after its image was finished.
    await packer.catch(() => {});
  }
}

/** What one Packer run made: its images by region, and what their tags record. */
interface MadeImage {
  amis: Record<string, string>;
  builtAt: string;
  baseAmi: string;
  parentAmi?: string;
  rendered: RenderedForBuild;
}

/**
 * From here on the images exist: they are tagged even if the run is being interrupted, because an
 * untagged bake image is invisible to plan and prune (tags are the record of what exists). Then
 * the package manifest is kept. With a launch test to come, the tags say `pending` until it ends.
 */
async function tagImages(run: BuildRun, entry: PlannedRecipe, made: MadeImage, log: RecipeLog): Promise<BuiltImage> {
  const { bakery, deps, options } = run;
  const recipe = entry.recipe;
  const buildRegion = recipe.regions[0];
  const { amis, rendered } = made;
  const tags = imageTags({
    recipe: recipeNameOf(recipe),
    architecture: architectureOfRecipe(recipe),
    userTags: { ...bakery.config.tags, ...recipe.tags },
    fingerprint: entry.fingerprint,
    gitCommit: run.gitCommit,
    baseAmi: made.baseAmi,
    parentAmi: made.parentAmi,
    builtAt: made.builtAt,
    buildUrl: options.buildUrl,
    jobName: options.jobName,
    inputs: entry.inputs,
    bakery: bakery.config.bakery,
  });
  // Not current until its launch test passed: a run killed mid-test leaves an image plan rebuilds.
  if (launchTested(run, entry)) tags[LAUNCH_TEST_TAG] = 'pending';
  for (const [region, ami] of Object.entries(amis)) {
    await deps.tagImage(region, ami, tags);
    // Before distribution: copies take the source image's description.
    if (recipe.description && deps.describeImage)
      await deps.describeImage(region, ami, amiDescription(recipe.description));
    await log.note(`tagged ${ami} in ${region} and its snapshots`);
  }
  await keepManifest(run, entry, rendered.dir, log);
  // Checked after tagging, so that the images which do exist are recorded all the same.
  if (!amis[buildRegion])
    throw new BuildFailure(`Packer's manifest has no image for ${buildRegion} (${rendered.manifest})`);
  return { amis, baked: { tags, builtAt: made.builtAt, bakedNow: true } };
}

const launchTested = (run: BuildRun, entry: PlannedRecipe) =>
  Boolean(run.deps.launchTest) && launchTestEnabled(entry.recipe);

/**
 * The launch test of the build region's new image, while children may already bake on it. It
 * waits for the parent's image to be proven first, so that nothing built on a failed image is
 * ever tagged passed. A failure stops the children (the scheduler aborts them; they discard what
 * they made) and settles the proof, so what waits for it goes no further.
 */
async function proveImage(
  run: BuildRun,
  entry: PlannedRecipe,
  image: BuiltImage,
  signal: AbortSignal,
  log: RecipeLog,
  stopDependents: (reason: string) => void,
): Promise<LaunchTestResult | undefined> {
  if (!launchTested(run, entry)) {
    if (entry.recipe.launchTest && !entry.recipe.launchTest.enabled)
      await log.note(`no launch test (launch_test: false in ${entry.name}'s recipe)`);
    // Vouched for only once the image it is built on is (an untested parent may still fail).
    if (!(await untilAborted(run.proofs.parentChain(entry.name), signal))) {
      run.proofs.settle(entry.name, false);
      throw new BuildFailure(`the image ${entry.name} is built on did not pass its launch test`);
    }
    await recordBuiltImages(run, entry, image.amis, log);
    run.proofs.settle(entry.name, true);
    return undefined;
  }
  if (run.options.launchTestLater) {
    // Another `bake build` tests it: it stays pending, recorded as awaiting its test (record-build.ts).
    const region = entry.recipe.regions[0];
    await recordUntestedImage(run, entry, region, image.amis[region], log);
    run.proofs.settle(entry.name, true);
    return undefined;
  }
  try {
    return await launchTestOnceParentPassed(run, entry, image.amis, image.baked!.tags, signal, log);
  } catch (error) {
    if (!signal.aborted) stopDependents('failed its launch test');
    throw error;
  }
}

/** The image's package list beside the run's logs, for the report's package diff; a failure here does not fail the bake. */
async function keepManifest(run: BuildRun, entry: PlannedRecipe, renderedDir: string, log: RecipeLog): Promise<void> {
  try {
    const manifest = await run.deps.packageManifests?.keep(
      renderedDir,
      path.dirname(path.dirname(log.file)),
      run.runId,
      entry.name,
    );
    if (manifest) {
      run.manifests.set(entry.name, manifest);
      await log.note(
        `package manifest ${manifest.sbom} (${manifest.packages} packages, in the image at ${IMAGE_SBOM_PATH})`,
      );
    }
  } catch (error) {
    await log.note(`package manifest not kept: ${(error as Error).message}`);
  }
}
