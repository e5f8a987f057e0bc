/**
 * The fingerprints of a bakery's recipes, in one pass: the asked recipes and every recipe they
 * are built FROM (a child's fingerprint holds its parent's), parents first. What `bake plan`,
 * `--changed-since` and `bake prune` compare images against, computed the same way for all
 * three. It needs content ids and resolved base images, nothing else: no listing of bake's
 * images, no history.
 */
import { RecipeGraph, parentNameOf } from '../recipes/graph.js';
import type { BaseImage, Bakery, Recipe } from '../recipes/model.js';
import type { ContentIdSource } from './content-ids.js';
import { fingerprintOf, recipeInputs, watchedFolders, type Fingerprint, type RecipeInputs } from './fingerprint.js';

/** A resolved base image: its id, and its name when the lookup tells it (for a plan's reasons). */
export interface ResolvedBase {
  imageId: string;
  name?: string;
}

/** Where the facts a fingerprint depends on come from (git or the files; EC2 or SSM). */
export interface FingerprintSources {
  contentIds: ContentIdSource;
  /** AMI id (or id and name) of a base image in a region: filter and SSM bases are looked up. */
  resolveBase(base: BaseImage, region: string): Promise<string | ResolvedBase>;
}

/** Those facts, gathered. */
export interface FingerprintFacts {
  /** Content ids of the watched folders' files, root-relative. */
  ids: Map<string, string>;
  /**
   * Recipe → its base resolved in its build region. Absent: every base counts as '' (what
   * `--changed-since` wants: a moved filter or SSM base is not a change in git).
   */
  bases?: Map<string, ResolvedBase>;
  generator: string;
}

export interface RecipeFingerprint {
  recipe: Recipe;
  inputs: RecipeInputs;
  fingerprint: Fingerprint;
  base: ResolvedBase;
}

/** Content ids and base images for these recipes and their ancestors, asked for at once. */
export async function readFingerprintFacts(
  bakery: Bakery,
  recipes: readonly Recipe[],
  sources: FingerprintSources,
  generator: string,
): Promise<FingerprintFacts> {
  const all = RecipeGraph.of(bakery.recipes).withAncestors(recipes);
  const [ids, ...bases] = await Promise.all([
    sources.contentIds.idsUnder(watchedFolders(bakery)),
    ...all.map((recipe) => resolveBaseOnce(sources, recipe)),
  ]);
  return { ids, bases: new Map(all.map((recipe, i) => [recipe.name, bases[i]])), generator };
}

/** Pure: recipe name → fingerprint, for these recipes and their ancestors, in build order (parents first). */
export function fingerprintBakery(
  bakery: Bakery,
  recipes: readonly Recipe[],
  facts: FingerprintFacts,
): Map<string, RecipeFingerprint> {
  const out = new Map<string, RecipeFingerprint>();
  for (const recipe of RecipeGraph.of(bakery.recipes).withAncestors(recipes)) {
    const parentName = parentNameOf(recipe);
    const parent = parentName === undefined ? undefined : out.get(parentName);
    const base = facts.bases?.get(recipe.name) ?? { imageId: '' };
    const inputs = recipeInputs(recipe, {
      bakery,
      ids: facts.ids,
      baseAmi: base.imageId,
      parentFingerprint: parent?.fingerprint.value,
      generator: facts.generator,
    });
    out.set(recipe.name, { recipe, inputs, fingerprint: fingerprintOf(inputs), base });
  }
  return out;
}

/** Base lookups, once per (base, region) for as long as the sources live (many recipes share one base). */
const baseCache = new WeakMap<FingerprintSources, Map<string, Promise<ResolvedBase>>>();

function resolveBaseOnce(sources: FingerprintSources, recipe: Recipe): Promise<ResolvedBase> {
  if (recipe.base.kind === 'recipe') return Promise.resolve({ imageId: `recipe:${recipe.base.recipe}` });
  if (recipe.base.kind === 'ami') return Promise.resolve({ imageId: recipe.base.ami });
  let cache = baseCache.get(sources);
  if (!cache) baseCache.set(sources, (cache = new Map()));
  const region = recipe.regions[0];
  const key = JSON.stringify([recipe.base, region]);
  let resolved = cache.get(key);
  if (!resolved) {
    resolved = sources.resolveBase(recipe.base, region).then((r) => (typeof r === 'string' ? { imageId: r } : r));
    cache.set(key, resolved);
  }
  return resolved;
}
