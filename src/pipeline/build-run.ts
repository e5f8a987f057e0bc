/**
 * What the steps of `bake build` share: the build's effects (BuildDeps), its options, the plan
 * entries they read, and one run's state (its id, the images made so far). The steps themselves
 * live beside this file: bake-recipe.ts (render, Packer, tags, launch test), distribute-recipe.ts
 * (copies, sharing, settings), pin-decision.ts (what is pinned, or why not); build.ts schedules them.
 */
import type { BuildRecords } from '../aws/build-records.js';
import type { FoundImage } from '../aws/image-catalog.js';
import { BakeError } from '../errors/index.js';
import type { LaunchTestResult } from '../launch-test/launch-test.js';
import { distributionTag } from '../lifecycle/distribution-settings.js';
import type { DistributionRequest, DistributionResult } from '../lifecycle/distribute.js';
import type { PackerBuildRequest } from '../packer/runner.js';
import type { PackerVariables } from '../packer/variables.js';
import type { RecipeGraph } from '../recipes/graph.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import type { KeptManifest } from '../sbom/build-manifest.js';
import type { SecretValues } from '../secrets/resolve.js';
import { logFileOf, recipeLog, type RecipeLog } from './build-log.js';
import type { LaunchProofs } from './launch-proofs.js';
import type { SsmPinResult } from './pin-ssm.js';
import type { BuildProgress } from './progress.js';

/** The part of the plan (src/pipeline/plan.ts, RecipePlan) that the build reads. */
export interface PlannedRecipe {
  name: string;
  recipe: Recipe;
  action: 'build' | 'reuse';
  reasons: string[];
  fingerprint: string;
  inputs?: unknown;
  /** Region → AMI: the current images, for reused recipes. */
  amis: Record<string, string>;
  /** The resolved base image (build region) for recipes not built from a parent. */
  baseAmi?: string;
  parent?: string;
  /** Set when today's image exists in the build region and only other regions lack it or its settings: distribute, do not bake. */
  distributeOnly?: { region: string; ami: string };
  /** Seconds the recipe's last bake took (plan: from its newest image's tags), to start the longest chains first. */
  lastBakeSeconds?: number;
  /** A security rebuild (same fingerprint): these current images are what it replaces, never "baked meanwhile". */
  replaces?: string[];
}

export interface BuildPlan {
  recipes: PlannedRecipe[];
}

/** What rendering tells the build: where the template is and where Packer's manifest will be. */
export interface RenderedForBuild {
  dir: string;
  template: string;
  manifest: string;
}

/** What the build hands the launch test of one new image. */
export interface LaunchTestCall {
  recipe: Recipe;
  region: string;
  imageId: string;
  signal: AbortSignal;
  log(line: string): Promise<void>;
}

export interface BuildDeps {
  /** Renders the recipe into OUT/<recipe>/ (src/packer/render.ts). */
  render(recipe: Recipe, outDir: string): Promise<RenderedForBuild>;
  writeVariables(file: string, values: PackerVariables): Promise<void>;
  runPacker(request: PackerBuildRequest): Promise<unknown>;
  readManifest(file: string): Promise<Record<string, string>>;
  /** Appends to a recipe's build log (src/pipeline/build-log.ts appendBuildLog: folders made as needed). */
  appendLog(file: string, text: string): Promise<void>;
  /** Tags the image and its snapshots in one region. */
  tagImage(region: string, imageId: string, tags: Record<string, string>): Promise<void>;
  /** Sets the AMI's description (free text Packer would run through its template engine). */
  describeImage?(region: string, imageId: string, description: string): Promise<void>;
  /**
   * After Packer: copies the build region's image to the recipe's other regions and applies
   * share_with, IMDSv2 and the deprecation time in every region (src/lifecycle/distribute.ts).
   * Absent: the images in Packer's manifest are all there is.
   */
  distribute?(request: DistributionRequest): Promise<DistributionResult>;
  pin(requests: Array<{ recipe: Recipe; amis: Record<string, string> }>): Promise<unknown>;
  /** Writes the requests' SSM pin targets (src/pipeline/pin-ssm.ts). Absent: SSM targets are not written. */
  pinParameters?(requests: Array<{ recipe: Recipe; amis: Record<string, string> }>): Promise<SsmPinResult[]>;
  /** Records the pin on the images (`bake:pinned:<env>`, src/pipeline/environment-pins.ts). Absent: not recorded. */
  recordPins?(environment: string, requests: Array<{ recipe: Recipe; amis: Record<string, string> }>): Promise<void>;
  /**
   * Boots the build region's new image and runs its checks (src/launch-test/), before it is
   * copied, shared or pinned. Absent: no launch tests (the recipe's `launch_test:` is not read).
   */
  launchTest?(request: LaunchTestCall): Promise<LaunchTestResult>;
  /**
   * Deregisters an image this run made and must not keep, with its snapshots (src/aws/discard-image.ts):
   * a child baked on a parent image that then failed its launch test. Returns what was removed.
   * Absent: such images stay, tagged with their pending launch test (plan never reuses them).
   */
  discardImage?(region: string, imageId: string): Promise<string[]>;
  /**
   * Takes the recipe's cross-agent build lock (src/pipeline/recipe-lock.ts), waiting or failing
   * when another job holds it; returns its release. Absent: no lock.
   */
  lockRecipe?(entry: PlannedRecipe, signal: AbortSignal): Promise<() => Promise<void>>;
  /**
   * Reads the build-time secrets of the recipes about to be baked (src/secrets/resolve.ts), all
   * before the first Packer starts; throws RecipeErrors naming each secret that cannot be read.
   * Absent: recipes with secrets cannot be baked.
   */
  resolveSecrets?(recipes: Recipe[]): Promise<Map<string, SecretValues>>;
  /**
   * The package manifest Ansible writes beside the playbook (src/sbom/build-manifest.ts): cleared
   * before Packer runs, kept with the run's logs after. Absent: no manifest is kept.
   */
  packageManifests?: {
    clear(renderedDir: string): Promise<void>;
    keep(renderedDir: string, logsRoot: string, runId: string, recipe: string): Promise<KeptManifest | undefined>;
  };
  /**
   * Build records (src/aws/build-records.ts): the images this bakery vouches for, written once an
   * image passed its launch test and once it is copied. Absent: nothing is recorded.
   */
  records?: BuildRecords;
  /** Per region, the newest image tagged with the entry's fingerprint now and its bake:distribution tag (asked once the lock is held). */
  findImages?(entry: PlannedRecipe): Promise<Record<string, FoundImage>>;
  gitCommit(): Promise<string>;
  now(): Date;
}

export interface BuildOptions {
  /** Recipes baked at once (default 2). */
  concurrency?: number;
  /** --force: bake even when another job baked the same fingerprint while this one waited for the lock. */
  force?: boolean;
  /** Pin after a successful run (default true; --no-pin). */
  pin?: boolean;
  /**
   * Distribute after baking (default true). --no-distribute: the build region's image only, for
   * CI that starts the children on it and distributes in a second run; nothing is pinned then.
   */
  distribute?: boolean;
  /** SIGINT/SIGTERM: stop starting builds, interrupt running Packers, wait for them. */
  signal?: AbortSignal;
  runId?: string;
  /** Jenkins BUILD_URL, for the bake:build-url tag. */
  buildUrl?: string;
  /** Jenkins JOB_NAME, for the bake:job tag. */
  jobName?: string;
  /** Environment for Packer (endpoint, local-cloud credentials). */
  packerEnv?: Record<string, string | undefined>;
  progress?: BuildProgress;
}

/** A recipe's image(s) after one of its steps. */
export interface BuiltImage {
  amis: Record<string, string>;
  launchTest?: LaunchTestResult;
  /** Found after taking the lock: another job baked the same fingerprint first. */
  bakedElsewhere?: boolean;
  /** With bakedElsewhere: that job's copies or settings were not finished when we looked, so distribute it too. */
  finishDistribution?: boolean;
  /** Set when this run baked the image: what its distribution puts on the copies. */
  baked?: { tags: Record<string, string>; builtAt: string; bakedNow: true };
}

/** One run of `bake build`, as its steps see it. */
export interface BuildRun {
  bakery: Bakery;
  deps: BuildDeps;
  options: BuildOptions;
  progress: BuildProgress;
  runId: string;
  /** The bakery's commit, for the bake:git-commit tag ('' when nothing is baked). */
  gitCommit: string;
  /** The plan's entries, with the parents the plan recorded. */
  graph: RecipeGraph<PlannedRecipe>;
  /** Images this run has so far, by recipe. */
  built: Map<string, BuiltImage>;
  /**
   * Copies of this run's new images in their other regions, by recipe then region, as soon as each
   * is available (before they are published): where a child built in that region starts.
   */
  copies: Map<string, Record<string, string>>;
  /** Package manifests kept from this run's bakes, by recipe. */
  manifests: Map<string, KeptManifest>;
  /** The build-time secrets of the recipes to bake, read before any Packer starts. */
  secrets: Map<string, SecretValues>;
  /** Which new images passed their launch tests, up their chains: what children and distributions wait for. */
  proofs: LaunchProofs;
  /** The recipes' templates, rendered at the start of the run (render-ahead.ts); absent: each bake renders its own. */
  renderedAhead?: Map<string, Promise<RenderedForBuild>>;
}

export function logOf(run: BuildRun, recipe: string): RecipeLog {
  return recipeLog(logFileOf(run.bakery.root, run.runId, recipe), run.deps.appendLog);
}

/** The recipe this entry is built FROM: the plan's record, else its recipe's `base: recipe:`. */
export function parentOf(entry: PlannedRecipe): string | undefined {
  return entry.parent ?? (entry.recipe.base.kind === 'recipe' ? entry.recipe.base.recipe : undefined);
}

/**
 * Runs a step of the recipe holding its cross-agent lock (when the build takes locks), after
 * looking again under the lock: another job may have baked (or distributed) this very
 * fingerprint while this one planned or waited. When its images are in every region with their
 * settings applied, they are reused and the step does not run; otherwise the step gets what was
 * found. A failure is noted in the recipe's log.
 */
export async function underRecipeLock(
  run: BuildRun,
  entry: PlannedRecipe,
  signal: AbortSignal,
  doneMeanwhile: 'baked' | 'distributed',
  step: (found: Record<string, FoundImage>) => Promise<BuiltImage>,
): Promise<BuiltImage> {
  const { deps, options } = run;
  const log = logOf(run, entry.name);
  try {
    const release = deps.lockRecipe ? await deps.lockRecipe(entry, signal) : undefined;
    try {
      const found = release && deps.findImages && !options.force ? await deps.findImages(entry) : {};
      for (const [region, image] of Object.entries(found))
        if (entry.replaces?.includes(image.imageId)) delete found[region];
      const settled = (region: string) =>
        Boolean(found[region]) && (!deps.distribute || found[region].distribution === distributionTag(entry.recipe));
      if (entry.recipe.regions.every(settled)) {
        const amis = Object.fromEntries(entry.recipe.regions.map((region) => [region, found[region].imageId]));
        await log.note(
          `${entry.name} ${entry.fingerprint} was ${doneMeanwhile} meanwhile by another job: ${amiList(amis)}`,
        );
        return { amis, bakedElsewhere: true };
      }
      return await step(found);
    } finally {
      await release?.();
    }
  } catch (error) {
    await noteStopped(log, entry, error);
    throw error;
  }
}

/** Packer's own failures are in the log already; this says in the log what else stopped the recipe. */
export async function noteStopped(log: RecipeLog, entry: PlannedRecipe, error: unknown): Promise<void> {
  await log.note(`${entry.name} stopped: ${oneLine(error)}`);
}

export function oneLine(error: unknown): string {
  const text = error instanceof BakeError ? error.toLine() : error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}

export function amiList(amis: Record<string, string>): string {
  return Object.entries(amis)
    .map(([region, ami]) => `${region} ${ami}`)
    .join(', ');
}
