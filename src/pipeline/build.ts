/**
 * `bake build`: bakes what the plan says, parents before children, N at once; tags every new
 * image; then pins every recipe's images into its tfvars targets. Every side effect (Packer,
 * EC2, tfvars, git, clock) comes in through BuildDeps, so tests substitute real local stand-ins.
 *
 * Each recipe is two steps: its bake (lock, Packer, tags, launch test: one of the `concurrency`
 * slots, held until Packer stops the build instance; the snapshot, termination and launch test
 * take none) and its distribution (copies to the other regions, sharing, IMDSv2, deprecation: no
 * slot, no lock, since it only waits on EC2). Both the children and the copies start as soon as
 * the image is finished and tagged, while its launch test runs and Packer still terminates its
 * build instance; a child built in another region starts once the copy there is available. What
 * publishes an image waits until it and its chain passed their launch tests.
 *
 * A recipe whose bake or distribution fails fails the run; a failed bake skips its descendants
 * not yet started (they have no image to start from), while independent recipes finish. (A
 * Packer that fails in its cleanup, after its image was finished, fails its recipe and the run,
 * while children already baking on that image go on.) Nothing is pinned from a
 * run that failed or was interrupted, and pinning waits for every distribution: tfvars only ever
 * name images from a fully successful run.
 *
 * The steps are named modules: bake-recipe.ts (Packer, tags, launch test), distribute-recipe.ts,
 * pin-decision.ts; build-run.ts holds what they share, with underRecipeLock; build-nodes.ts makes
 * the scheduler's nodes (what each step waits for, who starts first). This file lists the run's steps.
 */
import { randomBytes } from 'node:crypto';
import { parentNameOf, RecipeGraph } from '../recipes/graph.js';
import type { Bakery } from '../recipes/model.js';
import type { SecretValues } from '../secrets/resolve.js';
import type { LaunchTestResult } from '../launch-test/launch-test.js';
import { bakeRecipe } from './bake-recipe.js';
import {
  buildNodes,
  recipeOutcomeOf,
  type BakeEvents,
  type DistributionEvents,
  type StepOutcomes,
} from './build-nodes.js';
import { LaunchProofs } from './launch-proofs.js';
import { logFileOf } from './build-log.js';
import type { BuildReport, RecipeBuildResult } from './build-report.js';
import {
  amiList,
  logOf,
  noteStopped,
  oneLine,
  underRecipeLock,
  type BuildDeps,
  type BuildOptions,
  type BuildPlan,
  type BuildRun,
  type BuiltImage,
  type PlannedRecipe,
} from './build-run.js';
import { distributeRecipe } from './distribute-recipe.js';
import { launchTestOf } from './launch-test-step.js';
import { decidePin, pinAfterBuild } from './pin-decision.js';
import { firstEnvironment } from '../recipes/environments.js';
import { silentProgress } from './progress.js';
import { runDag, type NodeOutcome, type Slot } from './scheduler.js';
import { prepareWorkDir, removeWorkDir, workDirOf } from './work-dir.js';
import { renderAhead } from './render-ahead.js';

export type { BuildDeps, BuildOptions, BuildPlan, PlannedRecipe, RenderedForBuild } from './build-run.js';

/** `20261122T185105Z-1a2b`: sorts by time, unique across agents starting in the same second. */
export function newRunId(now: Date): string {
  return `${now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '')}-${randomBytes(2).toString('hex')}`;
}

export async function buildBakery(
  bakery: Bakery,
  plan: BuildPlan,
  deps: BuildDeps,
  options: BuildOptions = {},
): Promise<BuildReport> {
  const progress = options.progress ?? silentProgress;
  const runId = options.runId ?? newRunId(deps.now());
  const toBuild = plan.recipes.filter((entry) => entry.action === 'build');
  const parentOf = (entry: PlannedRecipe) => entry.parent ?? parentNameOf(entry.recipe);
  const graph = RecipeGraph.over(plan.recipes, parentOf);
  // A secret that cannot be read stops the run here, before any Packer starts.
  const baking = toBuild.filter((entry) => !entry.distributeOnly).map((entry) => entry.recipe);
  const secrets =
    deps.resolveSecrets && baking.some((recipe) => recipe.secrets?.length)
      ? await deps.resolveSecrets(baking)
      : new Map<string, SecretValues>();

  progress.planned(
    plan.recipes.map((entry) => ({
      name: entry.name,
      action: entry.action,
      detail: entry.action === 'reuse' ? amiList(entry.amis) : entry.reasons.join('; '),
    })),
  );

  const run: BuildRun = {
    bakery,
    deps,
    options,
    progress,
    runId,
    gitCommit: toBuild.length ? await deps.gitCommit() : '',
    graph,
    built: new Map(),
    copies: new Map(),
    manifests: new Map(),
    secrets,
    proofs: new LaunchProofs(
      baking.map((recipe) => recipe.name),
      (name) => {
        const entry = graph.get(name);
        return entry && parentOf(entry);
      },
    ),
  };
  const { built, manifests } = run;

  /** Bake step: under the recipe's lock; another job's image of this fingerprint is reused, or only its distribution finished. */
  const bake = async (
    entry: PlannedRecipe,
    signal: AbortSignal,
    slot: Slot,
    { imageFinished, stopDependents }: BakeEvents,
  ): Promise<BuiltImage> => {
    const log = logOf(run, entry.name);
    await log.note(`run ${runId}, recipe ${entry.name}, fingerprint ${entry.fingerprint}`);
    // Whatever happens, the proof settles: what waits for it never waits for a bake that ended.
    return underRecipeLock(run, entry, signal, 'baked', async (found) => {
      if (found[entry.recipe.regions[0]] && deps.distribute) {
        // Its bake is done but its copies or settings are not (that job may still be distributing): never
        // bake again; the distribution step finishes them, idempotently, and the image is reported reused.
        const amis = Object.fromEntries(Object.entries(found).map(([region, image]) => [region, image.imageId]));
        await log.note(
          `${entry.name} ${entry.fingerprint} was baked meanwhile by another job: ${amiList(amis)}; finishing its distribution`,
        );
        run.proofs.settle(entry.name, true);
        return { amis, bakedElsewhere: true, finishDistribution: true };
      }
      // The image finished before Packer's cleanup ended: the children and the copies start on it now.
      return bakeRecipe(run, entry, signal, log, slot, {
        imageFinished: (image) => {
          built.set(entry.name, image);
          imageFinished();
        },
        stopDependents,
      });
    }).then(
      (image) => (run.proofs.settle(entry.name, true), image),
      (error: unknown) => {
        run.proofs.settle(entry.name, false);
        throw error;
      },
    );
  };

  /**
   * Distribution step, of the image the bake made or the one a distribute-only entry found. With no
   * bake of ours before it, the image may be another job's, still distributing: like a bake, it runs
   * under the recipe's lock, so one recipe is distributed by one job at a time and a job that
   * planned in the other's window reuses its result.
   */
  const distribute = async (
    entry: PlannedRecipe,
    signal: AbortSignal,
    events: DistributionEvents,
  ): Promise<BuiltImage> => {
    // Started on the finished image: its copies start now, nothing is published before it (and its chain) passed the launch test.
    const image = built.get(entry.name) ?? { amis: entry.amis };
    const log = logOf(run, entry.name);
    const ownBake = image.baked || image.bakedElsewhere;
    if (entry.distributeOnly && !ownBake && deps.lockRecipe && options.distribute !== false) {
      return underRecipeLock(run, entry, signal, 'distributed', () =>
        distributeRecipe(run, entry, image, signal, log, events),
      );
    }
    try {
      return await distributeRecipe(run, entry, image, signal, log, events);
    } catch (error) {
      await noteStopped(log, entry, error);
      throw error;
    }
  };

  const startedAt = new Map<string, string>();
  const { nodes, recipeOf: recipeOfNode, isBake } = buildNodes(plan.recipes, parentOf, { bake, distribute });

  const recipeOutcomes = new Map<string, NodeOutcome<BuiltImage>>();
  const stepOutcomes = new Map<string, StepOutcomes>();
  const settleStep = (outcome: NodeOutcome<BuiltImage>) => {
    const entry = recipeOfNode(outcome.id);
    const steps = stepOutcomes.get(entry.name) ?? {};
    stepOutcomes.set(entry.name, steps);
    if (isBake(outcome.id)) {
      steps.bake = outcome;
      if (outcome.status === 'built') built.set(entry.name, outcome.value!);
    } else steps.distribution = outcome;
    if (recipeOutcomes.has(entry.name)) return;
    const started = startedAt.get(entry.name);
    const final = recipeOutcomeOf(entry, steps, started ? deps.now().getTime() - Date.parse(started) : undefined);
    if (!final) return;
    recipeOutcomes.set(entry.name, final);
    if (final.status === 'built') built.set(entry.name, final.value!);
    const result = resultOf(entry, final, bakery.root, runId);
    progress.settled(entry.name, final.status, result.status === 'built' ? amiList(result.amis) : (result.error ?? ''));
  };

  if (toBuild.length) await prepareWorkDir(bakery.root, runId, deps.now());
  // Children's templates are ready when their parent's image is: only the source image is left to fill in.
  run.renderedAhead = renderAhead(
    toBuild.filter((entry) => !entry.distributeOnly),
    (entry) => deps.render(entry.recipe, workDirOf(bakery.root, runId)),
  );
  await runDag(nodes, {
    concurrency: options.concurrency ?? 2,
    signal: options.signal,
    now: () => deps.now().getTime(),
    onStart: (id) => {
      const entry = recipeOfNode(id);
      if (isBake(id) || entry.distributeOnly) startedAt.set(entry.name, deps.now().toISOString());
      if (isBake(id)) progress.started(id, 'building');
      else if (entry.distributeOnly) progress.started(entry.name, 'distributing');
    },
    onSettled: (outcome) => settleStep(outcome as NodeOutcome<BuiltImage>),
  });

  const recipes: RecipeBuildResult[] = plan.recipes.map((entry) =>
    entry.action === 'reuse'
      ? {
          name: entry.name,
          status: 'reused',
          amis: entry.amis,
          fingerprint: entry.fingerprint,
          duration_s: 0,
          reasons: entry.reasons,
        }
      : {
          ...resultOf(entry, recipeOutcomes.get(entry.name)!, bakery.root, runId),
          ...(startedAt.has(entry.name) && { started_at: startedAt.get(entry.name) }),
          ...(manifests.has(entry.name) && { packages: manifests.get(entry.name) }),
        },
  );
  const interrupted = Boolean(options.signal?.aborted);
  if (toBuild.length && !interrupted && recipes.every((r) => r.status === 'built' || r.status === 'reused'))
    await removeWorkDir(bakery.root, runId);
  const decision = decidePin(recipes, (name) => graph.get(name)!.recipe, {
    interrupted,
    pin: options.pin,
    distribute: options.distribute,
    environment: firstEnvironment(bakery.config),
  });
  return { run_id: runId, recipes, interrupted, pin: await pinAfterBuild(run, decision) };
}

function resultOf(
  entry: PlannedRecipe,
  outcome: NodeOutcome<BuiltImage>,
  root: string,
  runId: string,
): RecipeBuildResult {
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
        return {
          ...base,
          status: 'reused',
          amis: outcome.value!.amis,
          reasons: [...entry.reasons, 'baked meanwhile by another job'],
        };
      }
      return {
        ...base,
        status: 'built',
        amis: outcome.value!.amis,
        log,
        ...launchTestField(entry, outcome.value!.launchTest),
      };
    case 'skipped':
      return { ...base, status: 'skipped', amis: {}, error: outcome.reason };
    case 'aborted':
      return {
        ...base,
        status: 'aborted',
        amis: {},
        log,
        error: outcome.reason,
        log_tail: tailOf(outcome.error),
        ...launchTestField(entry, launchTestOf(outcome.error)),
      };
    case 'failed':
      return {
        ...base,
        status: 'failed',
        amis: {},
        log,
        error: oneLine(outcome.error),
        log_tail: tailOf(outcome.error),
        ...launchTestField(entry, launchTestOf(outcome.error)),
      };
  }
}

/** The report's `launch_test`: the result, or that the recipe opted out. */
function launchTestField(
  entry: PlannedRecipe,
  result: LaunchTestResult | undefined,
): Pick<RecipeBuildResult, 'launch_test'> {
  if (result) return { launch_test: result };
  if (entry.recipe.launchTest && !entry.recipe.launchTest.enabled)
    return { launch_test: { status: 'off', reason: 'launch_test: false' } };
  return {};
}

function tailOf(error: unknown): string[] | undefined {
  const lines = (error as { lastLines?: unknown })?.lastLines;
  return Array.isArray(lines) && lines.length ? (lines as string[]) : undefined;
}
