/**
 * `bake build`: bakes what the plan says, parents before children, N at once; tags every new
 * image; then pins every recipe's images into its tfvars targets. Every side effect (Packer,
 * EC2, tfvars, git, clock) comes in through BuildDeps, so tests substitute real local stand-ins.
 *
 * Each recipe is two steps: its bake (lock, Packer, tags: one of the `concurrency` slots) and
 * its distribution (copies to the other regions, sharing, IMDSv2, deprecation: no slot, no lock,
 * since it only waits on EC2). A child starts as soon as its parent's image exists in the
 * child's build region, usually right after the parent's bake, while the parent's copies go on.
 *
 * A recipe whose bake or distribution fails fails the run; a failed bake skips its descendants
 * (they have no image to start from), while independent recipes finish. Nothing is pinned from a
 * run that failed or was interrupted, and pinning waits for every distribution: tfvars only ever
 * name images from a fully successful run.
 */
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { keepPackageManifest, MANIFEST_FILE, type KeptManifest } from '../sbom/build-manifest.js';
import { IMAGE_SBOM_PATH } from '../sbom/package-manifest.js';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SsmPinResult } from './pin-ssm.js';
import type { FoundImage } from '../aws/image-catalog.js';
import { BakeError, BuildFailure } from '../errors/index.js';
import { distributionTag } from '../lifecycle/distribution-settings.js';
import type { PackerBuildRequest } from '../packer/runner.js';
import type { PackerVariables } from '../packer/variables.js';
import type { DistributionRequest, DistributionResult } from '../lifecycle/distribute.js';
import { parentNameOf, RecipeGraph } from '../recipes/graph.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { withSecretsFile } from '../secrets/secrets-file.js';
import type { SecretValues } from '../secrets/resolve.js';
import { amiDescription, imageTags } from './build-tags.js';
import { launchTestEnabled, type LaunchTestResult } from '../launch-test/launch-test.js';
import { launchTestNewImage, launchTestOf } from './launch-test-step.js';
import { LAUNCH_TEST_TAG } from '../tags/tag-contract.js';
import type { BuildReport, RecipeBuildResult } from './build-report.js';
import { silentProgress, type BuildProgress } from './progress.js';
import { runDag, type DagNode, type NodeOutcome } from './scheduler.js';
import { prepareWorkDir, removeWorkDir, workDirOf } from './work-dir.js';

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

export interface BuildDeps {
  /** Renders the recipe into OUT/<recipe>/ (src/packer/render.ts). */
  render(recipe: Recipe, outDir: string): Promise<RenderedForBuild>;
  writeVariables(file: string, values: PackerVariables): Promise<void>;
  runPacker(request: PackerBuildRequest): Promise<unknown>;
  readManifest(file: string): Promise<Record<string, string>>;
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
  /**
   * Boots the build region's new image and runs its checks (src/launch-test/), before it is
   * copied, shared or pinned. Absent: no launch tests (the recipe's `launch_test:` is not read).
   */
  launchTest?(request: { recipe: Recipe; region: string; imageId: string; signal: AbortSignal; log(line: string): Promise<void> }): Promise<LaunchTestResult>;
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

interface BuiltImage {
  amis: Record<string, string>;
  launchTest?: LaunchTestResult;
  /** Found after taking the lock: another job baked the same fingerprint first. */
  bakedElsewhere?: boolean;
  /** With bakedElsewhere: that job's copies or settings were not finished when we looked, so distribute it too. */
  finishDistribution?: boolean;
  /** Set when this run baked the image: what its distribution puts on the copies. */
  baked?: { tags: Record<string, string>; builtAt: string; bakedNow: true };
}

/** The scheduler node that distributes a recipe's image; the recipe's bake node is the recipe's name. */
const distributionNodeOf = (name: string) => `${name} (distribution)`;

/** `20261122T185105Z-1a2b`: sorts by time, unique across agents starting in the same second. */
/** bake's SBOM writer, which Ansible runs at the end of the playbook (src/packer/playbook.ts). */
const SBOM_WRITER = fileURLToPath(new URL('../sbom/write-sbom.js', import.meta.url));

export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')}-${randomBytes(2).toString('hex')}`;
}

export function logFileOf(root: string, runId: string, recipe: string): string {
  return path.join(root, '.bake', 'logs', runId, `${recipe}.log`);
}

export async function buildBakery(bakery: Bakery, plan: BuildPlan, deps: BuildDeps, options: BuildOptions = {}): Promise<BuildReport> {
  const progress = options.progress ?? silentProgress;
  const runId = options.runId ?? newRunId(deps.now());
  const byName = new Map(plan.recipes.map((entry) => [entry.name, entry]));
  const toBuild = plan.recipes.filter((entry) => entry.action === 'build');
  const built = new Map<string, BuiltImage>();
  // A secret that cannot be read stops the run here, before any Packer starts.
  const baking = toBuild.filter((entry) => !entry.distributeOnly).map((entry) => entry.recipe);
  const secrets = deps.resolveSecrets && baking.some((recipe) => recipe.secrets?.length) ? await deps.resolveSecrets(baking) : new Map<string, SecretValues>();

  progress.planned(
    plan.recipes.map((entry) => ({
      name: entry.name,
      action: entry.action,
      detail: entry.action === 'reuse' ? amiList(entry.amis) : entry.reasons.join('; '),
    })),
  );

  const gitCommit = toBuild.length ? await deps.gitCommit() : '';
  const parentOf = (entry: PlannedRecipe) => entry.parent ?? parentNameOf(entry.recipe);
  const graph = RecipeGraph.over(plan.recipes, parentOf);

  /** The image the chain of parents started from: what `bake:base-ami` records. */
  const rootBaseAmi = (entry: PlannedRecipe): string | undefined => graph.rootOf(entry.name)?.baseAmi || entry.baseAmi || undefined;

  const bake = async (entry: PlannedRecipe, signal: AbortSignal): Promise<BuiltImage> => {
    const logFile = logFileOf(bakery.root, runId, entry.name);
    await mkdir(path.dirname(logFile), { recursive: true });
    await appendFile(logFile, `# bake: run ${runId}, recipe ${entry.name}, fingerprint ${entry.fingerprint}\n`);
    try {
      const release = deps.lockRecipe ? await deps.lockRecipe(entry, signal) : undefined;
      try {
        // Another job may have baked (or finished distributing) this very fingerprint while we planned or
        // waited for the lock: the plan may have seen its image before its distribution was settled.
        const existing = release && deps.findImages && !options.force ? await deps.findImages(entry) : {};
        const regions = entry.recipe.regions;
        const settled = !deps.distribute ? () => true : (region: string) => existing[region]?.distribution === distributionTag(entry.recipe);
        const amis = Object.fromEntries(Object.entries(existing).map(([region, image]) => [region, image.imageId]));
        if (regions.every((region) => existing[region] && settled(region))) {
          await appendFile(logFile, `# bake: ${entry.name} ${entry.fingerprint} was baked meanwhile by another job: ${amiList(amis)}\n`);
          return { amis, bakedElsewhere: true };
        }
        if (existing[regions[0]] && deps.distribute) {
          // Its bake is done but its copies or settings are not (that job may still be distributing): never
          // bake again; the distribution step finishes them, idempotently, and the image is reported reused.
          await appendFile(logFile, `# bake: ${entry.name} ${entry.fingerprint} was baked meanwhile by another job: ${amiList(amis)}; finishing its distribution\n`);
          return { amis, bakedElsewhere: true, finishDistribution: true };
        }
        return await bakeImage(entry, signal, logFile);
      } finally {
        await release?.();
      }
    } catch (error) {
      // Packer's own failures are in the log already; say in the log what else stopped the bake.
      await appendFile(logFile, `# bake: ${entry.name} stopped: ${oneLine(error)}\n`);
      throw error;
    }
  };

  /**
   * Copies, shares, IMDSv2, deprecation; a region failing fails the recipe, the images made stay
   * tagged. Without a distribute step, the images in Packer's manifest are all there is.
   */
  const distribute = async (entry: PlannedRecipe, image: BuiltImage, signal: AbortSignal): Promise<BuiltImage> => {
    const ownBake = image.baked || image.bakedElsewhere;
    if (!entry.distributeOnly || ownBake || !deps.lockRecipe || options.distribute === false) return distributeImage(entry, image, signal);
    // No bake of ours: the image may be another job's, still distributing. Like a bake, take the recipe's
    // lock and look again under it, so one recipe is distributed by one job at a time and a job that
    // planned in the other's window reuses its result instead of calling it built.
    const logFile = logFileOf(bakery.root, runId, entry.name);
    await mkdir(path.dirname(logFile), { recursive: true });
    try {
      const release = await deps.lockRecipe(entry, signal);
      try {
        const existing = deps.findImages && !options.force ? await deps.findImages(entry) : {};
        const regions = entry.recipe.regions;
        if (deps.distribute && regions.every((region) => existing[region]?.distribution === distributionTag(entry.recipe))) {
          const amis = Object.fromEntries(regions.map((region) => [region, existing[region].imageId]));
          await appendFile(logFile, `# bake: ${entry.name} ${entry.fingerprint} was distributed meanwhile by another job: ${amiList(amis)}\n`);
          return { amis, bakedElsewhere: true };
        }
        return await distributeImage(entry, image, signal);
      } finally {
        await release();
      }
    } catch (error) {
      await appendFile(logFile, `# bake: ${entry.name} stopped: ${oneLine(error)}\n`);
      throw error;
    }
  };

  const distributeImage = async (entry: PlannedRecipe, image: BuiltImage, signal: AbortSignal): Promise<BuiltImage> => {
    const logFile = logFileOf(bakery.root, runId, entry.name);
    try {
      const missing = entry.recipe.regions.filter((region) => !image.amis[region]);
      if ((image.bakedElsewhere && !image.finishDistribution) || options.distribute === false) return image;
      if (!deps.distribute) {
        if (missing.length) throw new BuildFailure(`Packer's manifest has no image for ${missing.join(', ')}`);
        return image;
      }
      if (entry.distributeOnly && !image.baked) {
        const { ami, region } = entry.distributeOnly;
        await mkdir(path.dirname(logFile), { recursive: true });
        await appendFile(logFile, `# bake: ${ami} (${region}) has this fingerprint already: distributing it, not baking\n`);
      }
      // Cross-region copies can take long: an interrupted run leaves them to the next one, which copies only what is missing.
      if (signal.aborted && missing.length) throw new BuildFailure(`interrupted before copying to ${missing.join(', ')}`);
      const result = await deps.distribute({
        recipe: entry.recipe,
        amis: image.amis,
        ...image.baked,
        now: deps.now(),
        signal,
        log: (line) => appendFile(logFile, `# bake: ${line}\n`),
      });
      return { amis: result.amis };
    } catch (error) {
      await appendFile(logFile, `# bake: ${entry.name} stopped: ${oneLine(error)}\n`);
      throw error;
    }
  };

  const bakeImage = async (entry: PlannedRecipe, signal: AbortSignal, logFile: string): Promise<BuiltImage> => {
    const recipe = entry.recipe;
    const buildRegion = recipe.regions[0];
    const parent = parentOf(entry);
    let sourceAmi = entry.baseAmi;
    let parentAmi: string | undefined;
    if (parent) {
      const parentImages = built.get(parent)?.amis ?? byName.get(parent)?.amis;
      parentAmi = parentImages?.[buildRegion] ?? (byName.has(parent) ? undefined : entry.baseAmi);
      if (!parentAmi) throw new BuildFailure(`parent recipe ${parent} has no image in ${buildRegion}, where ${entry.name} is built`);
      sourceAmi = parentAmi;
    }
    if (!sourceAmi) throw new BuildFailure(`no base image resolved for ${entry.name} in ${buildRegion}`);
    const baseAmi = rootBaseAmi(entry) || sourceAmi;

    const rendered = await deps.render(recipe, workDirOf(bakery.root, runId));
    const builtAt = deps.now().toISOString();
    // Best effort: an image baked without a manifest is still an image.
    await rm(path.join(rendered.dir, MANIFEST_FILE), { force: true });
    const varFile = path.join(rendered.dir, `${entry.name}.pkrvars.hcl`);
    const runPacker = async (secretsFile?: string) => {
      await deps.writeVariables(varFile, {
        source_ami: sourceAmi,
        fingerprint: entry.fingerprint,
        git_commit: gitCommit,
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
        logFile,
        env: options.packerEnv,
        signal,
        onLine: (line) => progress.line(entry.name, line),
      });
    };
    if (recipe.secrets?.length) {
      const values = secrets.get(entry.name);
      if (!values) throw new BuildFailure(`the secrets of ${entry.name} were not read: this build cannot pass them to its roles`);
      await withSecretsFile(values, runPacker);
    } else {
      await runPacker();
    }

    // From here on the images exist: tag them even if the run is being interrupted, because an
    // untagged bake image is invisible to plan and prune (tags are the record of what exists).
    const amis = await deps.readManifest(rendered.manifest);
    const testing = Boolean(deps.launchTest) && launchTestEnabled(recipe);
    const tags = imageTags({
      recipe: entry.name,
      userTags: { ...bakery.config.tags, ...recipe.tags },
      fingerprint: entry.fingerprint,
      gitCommit,
      baseAmi,
      parentAmi,
      builtAt,
      buildUrl: options.buildUrl,
      jobName: options.jobName,
      inputs: entry.inputs,
      bakery: bakery.config.bakery,
    });
    // Not current until its launch test passed: a run killed mid-test leaves an image plan rebuilds.
    if (testing) tags[LAUNCH_TEST_TAG] = 'pending';
    for (const [region, ami] of Object.entries(amis)) {
      await deps.tagImage(region, ami, tags);
      // Before distribution: copies take the source image's description.
      if (recipe.description && deps.describeImage) await deps.describeImage(region, ami, amiDescription(recipe.description));
      await appendFile(logFile, `# bake: tagged ${ami} in ${region} and its snapshots\n`);
    }
    try {
      const manifest = await keepPackageManifest(rendered.dir, path.dirname(path.dirname(logFile)), runId, entry.name);
      if (manifest) {
        manifests.set(entry.name, manifest);
        await appendFile(logFile, `# bake: package manifest ${manifest.sbom} (${manifest.packages} packages, in the image at ${IMAGE_SBOM_PATH})\n`);
      }
    } catch (error) {
      await appendFile(logFile, `# bake: package manifest not kept: ${(error as Error).message}\n`);
    }
    // Checked after tagging, so that the images which do exist are recorded all the same.
    if (!amis[buildRegion]) throw new BuildFailure(`Packer's manifest has no image for ${buildRegion} (${rendered.manifest})`);
    let launchTest: LaunchTestResult | undefined;
    if (testing) {
      const ami = amis[buildRegion];
      if (signal.aborted) throw new BuildFailure(`interrupted before the launch test of ${ami}`);
      // Before children start on it and before any copy: a failed image goes nowhere.
      launchTest = await launchTestNewImage(recipe, buildRegion, ami, { launchTest: deps.launchTest!, tagImage: deps.tagImage }, {
        signal,
        log: (line) => appendFile(logFile, `# bake: ${line}\n`),
      });
      tags[LAUNCH_TEST_TAG] = launchTest.status;
    } else if (recipe.launchTest && !recipe.launchTest.enabled) {
      await appendFile(logFile, `# bake: no launch test (launch_test: false in ${entry.name}'s recipe)\n`);
    }
    return { amis, baked: { tags, builtAt, bakedNow: true }, launchTest };
  };

  /**
   * The node a child waits for: its parent's bake when both build in the same region (the usual
   * case), its parent's distribution when the child builds where only a copy will bring the image.
   */
  const parentNodeOf = (entry: PlannedRecipe): string[] => {
    const parent = parentOf(entry);
    const parentEntry = parent ? byName.get(parent) : undefined;
    if (!parent || !parentEntry || parentEntry.action !== 'build') return parent ? [parent] : [];
    if (parentEntry.recipe.regions[0] !== entry.recipe.regions[0]) return [distributionNodeOf(parent)];
    // A distribute-only parent's image is in its build region already.
    return parentEntry.distributeOnly ? [] : [parent];
  };

  const startedAt = new Map<string, string>();
  const manifests = new Map<string, KeptManifest>();
  const nodes: DagNode<BuiltImage>[] = [];
  const recipeOfNode = new Map<string, PlannedRecipe>();
  // Among recipes ready at once, the scheduler starts the first listed: the deepest chains of
  // descendants first, so that a slot never goes to a leaf while a long chain waits.
  const buildGraph = RecipeGraph.over(toBuild, parentOf);
  for (const entry of [...toBuild].sort((a, b) => buildGraph.heightOf(b.name) - buildGraph.heightOf(a.name))) {
    // A recipe whose image exists in its build region only needs distributing: no bake, no slot.
    if (!entry.distributeOnly) nodes.push({ id: entry.name, parents: parentNodeOf(entry), run: (signal) => bake(entry, signal) });
    nodes.push({
      id: distributionNodeOf(entry.name),
      parents: entry.distributeOnly ? [] : [entry.name],
      usesSlot: false,
      run: (signal) => distribute(entry, built.get(entry.name) ?? { amis: entry.amis }, signal),
    });
    recipeOfNode.set(entry.name, entry).set(distributionNodeOf(entry.name), entry);
  }

  /** A recipe's outcome once its last step settled: the bake's if it did not build, otherwise the distribution's. */
  const recipeOutcomes = new Map<string, NodeOutcome<BuiltImage>>();
  const bakeOutcomes = new Map<string, NodeOutcome<BuiltImage>>();
  const settleStep = (outcome: NodeOutcome<BuiltImage>) => {
    const entry = recipeOfNode.get(outcome.id)!;
    let final: NodeOutcome<BuiltImage> | undefined;
    if (outcome.id === entry.name) {
      bakeOutcomes.set(entry.name, outcome);
      if (outcome.status === 'built') built.set(entry.name, outcome.value!);
      else final = { ...outcome, id: entry.name };
    } else if (!recipeOutcomes.has(entry.name)) {
      const bake = bakeOutcomes.get(entry.name);
      final = { ...outcome, id: entry.name, durationMs: (bake?.durationMs ?? 0) + outcome.durationMs, started: Boolean(bake?.started || outcome.started) };
      if (outcome.status === 'built') {
        final.value = { ...outcome.value!, bakedElsewhere: bake?.value?.bakedElsewhere ?? outcome.value!.bakedElsewhere, launchTest: bake?.value?.launchTest };
        built.set(entry.name, final.value);
      }
    }
    if (!final) return;
    recipeOutcomes.set(entry.name, final);
    const result = resultOf(entry, final, bakery.root, runId);
    progress.settled(entry.name, final.status, result.status === 'built' ? amiList(result.amis) : (result.error ?? ''));
  };

  if (toBuild.length) await prepareWorkDir(bakery.root, runId, deps.now());
  await runDag(nodes, {
    concurrency: options.concurrency ?? 2,
    signal: options.signal,
    now: () => deps.now().getTime(),
    onStart: (id) => {
      const entry = recipeOfNode.get(id)!;
      if (id === entry.name || entry.distributeOnly) startedAt.set(entry.name, deps.now().toISOString());
      if (id === entry.name) progress.started(id, 'building');
      else if (entry.distributeOnly) progress.started(entry.name, 'distributing');
    },
    onSettled: (outcome) => settleStep(outcome as NodeOutcome<BuiltImage>),
  });

  const recipes: RecipeBuildResult[] = plan.recipes.map((entry) =>
    entry.action === 'reuse'
      ? { name: entry.name, status: 'reused', amis: entry.amis, fingerprint: entry.fingerprint, duration_s: 0, reasons: entry.reasons }
      : {
          ...resultOf(entry, recipeOutcomes.get(entry.name)!, bakery.root, runId),
          ...(startedAt.has(entry.name) && { started_at: startedAt.get(entry.name) }),
          ...(manifests.has(entry.name) && { packages: manifests.get(entry.name) }),
        },
  );
  const interrupted = Boolean(options.signal?.aborted);
  const report: BuildReport = { run_id: runId, recipes, interrupted, pin: { status: 'skipped' } };
  if (toBuild.length && !interrupted && recipes.every((r) => r.status === 'built' || r.status === 'reused')) await removeWorkDir(bakery.root, runId);

  if (interrupted) report.pin = { status: 'skipped', reason: 'run interrupted' };
  else if (recipes.length === 0) report.pin = { status: 'skipped', reason: 'no recipe to build' };
  else if (recipes.some((r) => r.status !== 'built' && r.status !== 'reused')) report.pin = { status: 'skipped', reason: 'a recipe failed' };
  else if (options.pin === false) report.pin = { status: 'skipped', reason: '--no-pin' };
  else if (options.distribute === false) report.pin = { status: 'skipped', reason: '--no-distribute' };
  else {
    const requests = recipes
      .map((result) => ({ recipe: byName.get(result.name)!.recipe, amis: result.amis }))
      .filter((request) => request.recipe.pin.length > 0 || request.recipe.ssmPins.length > 0);
    if (requests.length === 0) report.pin = { status: 'skipped', reason: 'no recipe names a pin target' };
    else {
      try {
        const files = await deps.pin(requests.filter((r) => r.recipe.pin.length > 0));
        const ssm = requests.filter((r) => r.recipe.ssmPins.length > 0);
        const parameters = deps.pinParameters && ssm.length ? await deps.pinParameters(ssm) : undefined;
        report.pin = { status: 'pinned', files, ...(parameters && { parameters }) };
        progress.note(`pinned ${requests.map((r) => r.recipe.name).join(', ')}`);
      } catch (error) {
        const reason = error instanceof BakeError ? error.toLine() : (error as Error).message;
        report.pin = { status: 'failed', reason };
      }
    }
  }
  return report;
}

function resultOf(entry: PlannedRecipe, outcome: NodeOutcome<BuiltImage>, root: string, runId: string): RecipeBuildResult {
  const base = {
    name: entry.name,
    fingerprint: entry.fingerprint,
    duration_s: Math.round(outcome.durationMs) / 1000,
    reasons: entry.reasons,
  };
  const log = outcome.started ? logFileOf(root, runId, entry.name) : undefined;
  switch (outcome.status) {
    case 'built':
      if (outcome.value!.bakedElsewhere) {
        return { ...base, status: 'reused', amis: outcome.value!.amis, reasons: [...entry.reasons, 'baked meanwhile by another job'] };
      }
      return { ...base, status: 'built', amis: outcome.value!.amis, log, ...launchTestField(entry, outcome.value!.launchTest) };
    case 'skipped':
      return { ...base, status: 'skipped', amis: {}, error: outcome.reason };
    case 'aborted':
      return { ...base, status: 'aborted', amis: {}, log, error: outcome.reason, log_tail: tailOf(outcome.error), ...launchTestField(entry, launchTestOf(outcome.error)) };
    case 'failed':
      return { ...base, status: 'failed', amis: {}, log, error: oneLine(outcome.error), log_tail: tailOf(outcome.error), ...launchTestField(entry, launchTestOf(outcome.error)) };
  }
}

/** The report's `launch_test`: the result, or that the recipe opted out. */
function launchTestField(entry: PlannedRecipe, result: LaunchTestResult | undefined): Pick<RecipeBuildResult, 'launch_test'> {
  if (result) return { launch_test: result };
  if (entry.recipe.launchTest && !entry.recipe.launchTest.enabled) return { launch_test: { status: 'off', reason: 'launch_test: false' } };
  return {};
}

function oneLine(error: unknown): string {
  const text = error instanceof BakeError ? error.toLine() : error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}

function tailOf(error: unknown): string[] | undefined {
  const lines = (error as { lastLines?: unknown })?.lastLines;
  return Array.isArray(lines) && lines.length ? (lines as string[]) : undefined;
}

function amiList(amis: Record<string, string>): string {
  return Object.entries(amis)
    .map(([region, ami]) => `${region} ${ami}`)
    .join(', ');
}
