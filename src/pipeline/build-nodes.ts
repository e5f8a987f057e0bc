/**
 * The scheduler's nodes for one `bake build` (src/pipeline/scheduler.ts runs them): what each
 * recipe's steps wait for, and in which order ready steps start. build.ts says what the steps do.
 *
 * Each recipe built is two nodes: its bake (named after the recipe; one of the `concurrency`
 * slots) and its distribution (`<recipe> (distribution)`; no slot, it only waits on EC2). A
 * recipe whose image already exists in its build region (distribute-only) has no bake node.
 *
 * Parent rules: a child's bake waits for its parent's bake when both build in the same region,
 * for its parent's distribution when only a copy brings the image to the child's build region,
 * and for nothing when the parent is reused or only distributed (its image is there already). A
 * bake lets its dependents (its children, its distribution) start as soon as its image is
 * finished, before Packer's cleanup ends and while its launch test runs; a distribution lets the
 * children built elsewhere start as soon as their copies are available, before it publishes
 * anything. If the launch test fails, the bake stops them all (the scheduler aborts the ones
 * running, the copies with them, and skips the rest, reporting why).
 *
 * Chain ordering: among nodes ready at once the scheduler starts the first listed, so recipes are
 * listed longest chain of descendants first, and a slot never goes to a leaf while a long chain waits.
 */
import { RecipeGraph } from '../recipes/graph.js';
import type { BuiltImage, PlannedRecipe } from './build-run.js';
import type { DagNode, NodeOutcome, Slot } from './scheduler.js';

/** The scheduler node that distributes a recipe's image; the recipe's bake node is the recipe's name. */
export const distributionNodeOf = (name: string) => `${name} (distribution)`;

/** The parent a plan entry is built FROM: the one the plan recorded, else the recipe's `base.recipe`. */
export type ParentOf = (entry: PlannedRecipe) => string | undefined;

/** What a bake tells its dependents while it runs. */
export interface BakeEvents {
  /**
   * Its image exists (and is recorded where the distribution reads it): the dependents may start
   * on it, while Packer still cleans up and its launch test runs.
   */
  imageFinished(): void;
  /** That image failed its launch test: the dependents started on it are stopped, and report `reason`. */
  stopDependents(reason: string): void;
}

/** What a distribution tells its dependents (the recipe's children built in another region) while it runs. */
export interface DistributionEvents {
  /** The build regions of the recipe's children built elsewhere: where they wait for its copies. */
  childRegions: string[];
  /** The copies to every one of `childRegions` are available: those children may start on them. */
  copiesReady(): void;
}

/** What the nodes run: build.ts's steps. */
export interface RecipeSteps {
  bake(entry: PlannedRecipe, signal: AbortSignal, slot: Slot, events: BakeEvents): Promise<BuiltImage>;
  /** Distributes the recipe's image (its bake's, or the one a distribute-only plan entry found). */
  distribute(entry: PlannedRecipe, signal: AbortSignal, events: DistributionEvents): Promise<BuiltImage>;
}

export interface BuildNodes {
  /** In start order (longest chains first). */
  nodes: DagNode<BuiltImage>[];
  /** The plan entry a node belongs to. */
  recipeOf(nodeId: string): PlannedRecipe;
  /** Whether the node is the recipe's bake (not its distribution). */
  isBake(nodeId: string): boolean;
}

/** The nodes of the plan's entries to build (reused entries have none: their children wait for nothing). */
export function buildNodes(plan: readonly PlannedRecipe[], parentOf: ParentOf, steps: RecipeSteps): BuildNodes {
  const graph = RecipeGraph.over(plan, parentOf);
  const toBuild = plan.filter((entry) => entry.action === 'build');
  const nodes: DagNode<BuiltImage>[] = [];
  const recipeOfNode = new Map<string, PlannedRecipe>();
  for (const entry of longestChainFirst(toBuild, parentOf)) {
    if (!entry.distributeOnly)
      nodes.push({
        id: entry.name,
        parents: parentNodesOf(entry, parentOf, graph),
        run: (signal, slot, imageFinished, stopDependents) =>
          steps.bake(entry, signal, slot, { imageFinished, stopDependents }),
      });
    const childRegions = childBuildRegionsOf(entry, toBuild, parentOf);
    nodes.push({
      id: distributionNodeOf(entry.name),
      parents: entry.distributeOnly ? [] : [entry.name],
      usesSlot: false,
      run: (signal, _slot, copiesReady) => steps.distribute(entry, signal, { childRegions, copiesReady }),
    });
    recipeOfNode.set(entry.name, entry).set(distributionNodeOf(entry.name), entry);
  }
  return {
    nodes,
    recipeOf: (nodeId) => recipeOfNode.get(nodeId)!,
    isBake: (nodeId) => recipeOfNode.get(nodeId)?.name === nodeId,
  };
}

/**
 * The nodes a child's bake waits for: its parent's bake when both build in the same region (the
 * usual case), and also its parent's distribution when the child builds where only a copy will
 * bring the image (the bake still, so that the parent's failed launch test stops the child as its
 * parent's); a parent not built in this run (reused, or outside the plan) is a node of no one,
 * which the scheduler counts as satisfied.
 */
export function parentNodesOf(entry: PlannedRecipe, parentOf: ParentOf, graph: RecipeGraph<PlannedRecipe>): string[] {
  const parent = parentOf(entry);
  const parentEntry = parent ? graph.get(parent) : undefined;
  if (!parent || !parentEntry || parentEntry.action !== 'build') return parent ? [parent] : [];
  if (parentEntry.recipe.regions[0] !== entry.recipe.regions[0])
    return parentEntry.distributeOnly ? [distributionNodeOf(parent)] : [parent, distributionNodeOf(parent)];
  // A distribute-only parent's image is in its build region already.
  return parentEntry.distributeOnly ? [] : [parent];
}

/** The build regions, other than its own, of the entry's children that bake in this run: where they wait for its copies. */
export function childBuildRegionsOf(
  entry: PlannedRecipe,
  toBuild: readonly PlannedRecipe[],
  parentOf: ParentOf,
): string[] {
  const own = entry.recipe.regions[0];
  const regions = toBuild
    .filter((child) => !child.distributeOnly && parentOf(child) === entry.name)
    .map((child) => child.recipe.regions[0])
    .filter((region) => region !== own);
  return [...new Set(regions)];
}

/**
 * The entries, longest chain of descendants first. A chain's length is its bakes' last durations
 * (a recipe never baked counts as a typical one, the median of the known); with no durations
 * known at all, its height (recipes on it). Ties keep the plan's order.
 */
export function longestChainFirst(toBuild: readonly PlannedRecipe[], parentOf: ParentOf): PlannedRecipe[] {
  const graph = RecipeGraph.over(toBuild, parentOf);
  const known = toBuild.flatMap((e) => (e.lastBakeSeconds ? [e.lastBakeSeconds] : [])).sort((x, y) => x - y);
  const typical = known.length ? known[Math.floor(known.length / 2)] : 1;
  const chain = new Map<string, number>();
  const chainOf = (entry: PlannedRecipe): number => {
    if (!chain.has(entry.name))
      chain.set(
        entry.name,
        (entry.lastBakeSeconds ?? typical) + Math.max(0, ...graph.childrenOf(entry.name).map(chainOf)),
      );
    return chain.get(entry.name)!;
  };
  return [...toBuild].sort((x, y) => chainOf(y) - chainOf(x));
}

/** The outcomes of a recipe's steps, as they settle. */
export interface StepOutcomes {
  bake?: NodeOutcome<BuiltImage>;
  distribution?: NodeOutcome<BuiltImage>;
}

/**
 * A recipe's outcome once its steps settled (undefined before): the bake's if it did not build
 * (even when its distribution started on an image finished before Packer failed), otherwise the
 * distribution's once both are done, with the bake's launch test. `wallMs` is the time since the
 * recipe's first step started (the two steps overlap while Packer cleans up); without it, the
 * steps' durations are added.
 */
export function recipeOutcomeOf(
  entry: PlannedRecipe,
  { bake, distribution }: StepOutcomes,
  wallMs?: number,
): NodeOutcome<BuiltImage> | undefined {
  if (bake && bake.status !== 'built') return { ...bake, id: entry.name };
  if (!distribution || !(bake || entry.distributeOnly)) return undefined;
  const final: NodeOutcome<BuiltImage> = {
    ...distribution,
    id: entry.name,
    durationMs: wallMs ?? (bake?.durationMs ?? 0) + distribution.durationMs,
    started: Boolean(bake?.started || distribution.started),
  };
  if (distribution.status === 'built')
    final.value = {
      ...distribution.value!,
      bakedElsewhere: bake?.value?.bakedElsewhere ?? distribution.value!.bakedElsewhere,
      launchTest: bake?.value?.launchTest,
    };
  return final;
}
