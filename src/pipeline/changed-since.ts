/**
 * `bake plan --changed-since REF`: only the recipes whose image inputs differ between REF and
 * the work tree. The comparison is the fingerprint itself, computed for both trees, so it is as
 * exact as the plan: a change to a role any recipe reaches through meta dependencies counts, a
 * reformatted recipe or a README edit does not, and a changed parent carries over to its
 * children. Base images are left out on purpose: a moved `filter:` or `ssm:` base is not a git
 * change (a plain `bake plan` sees it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BakeError } from '../errors/index.js';
import { contentIdSourceFor } from '../fingerprint/content-ids.js';
import { componentDigests, fingerprintOf, recipeInputs, watchedFolders, type RecipeInputs } from '../fingerprint/fingerprint.js';
import { gitHistory } from '../fingerprint/history.js';
import { extractBakeryAt, resolveCommit } from '../git/tree-at.js';
import { GENERATOR_VERSION } from '../packer/generator-version.js';
import { buildLevels } from '../recipes/graph.js';
import { loadBakery } from '../recipes/load-bakery.js';
import type { Bakery, Recipe } from '../recipes/model.js';

/** A bakery and the content ids of its watched files. */
export interface BakerySnapshot {
  bakery: Bakery;
  ids: Map<string, string>;
}

export interface ChangedSince {
  ref: string;
  commit: string;
  /** Recipe → why it counts as changed; recipes not listed are unchanged. */
  changed: Map<string, string[]>;
  /** Set when the bakery at REF could not be read: then every recipe counts as changed. */
  unreadable?: string;
}

interface Fingerprinted {
  inputs: RecipeInputs;
  value: string;
}

function fingerprintAll(snapshot: BakerySnapshot): Map<string, Fingerprinted> {
  const out = new Map<string, Fingerprinted>();
  for (const recipe of buildLevels(snapshot.bakery.recipes).flat()) {
    const parent = recipe.base.kind === 'recipe' ? out.get(recipe.base.recipe) : undefined;
    // The base spec is part of the recipe's settings; what it resolves to today is not a git change.
    const inputs = recipeInputs(recipe, { bakery: snapshot.bakery, ids: snapshot.ids, baseAmi: '', parentFingerprint: parent?.value, generator: GENERATOR_VERSION });
    out.set(recipe.name, { inputs, value: fingerprintOf(inputs).value });
  }
  return out;
}

/** Pure: which of today's recipes would fingerprint differently at REF, and why. */
export function recipesChangedBetween(then: BakerySnapshot | undefined, now: BakerySnapshot): Map<string, string[]> {
  const before = then ? fingerprintAll(then) : new Map<string, Fingerprinted>();
  const after = fingerprintAll(now);
  const changed = new Map<string, string[]>();
  for (const recipe of now.bakery.recipes) {
    const was = before.get(recipe.name);
    const is = after.get(recipe.name)!;
    if (!was) {
      changed.set(recipe.name, [then ? 'new recipe' : 'the bakery did not exist there']);
      continue;
    }
    if (was.value === is.value) continue;
    changed.set(recipe.name, differences(recipe, was.inputs, is.inputs));
  }
  return changed;
}

function differences(recipe: Recipe, was: RecipeInputs, is: RecipeInputs): string[] {
  const a = componentDigests(was);
  const b = componentDigests(is);
  const why: string[] = [];
  if (a.recipe !== b.recipe) why.push('recipe settings changed');
  if (a.roles !== b.roles) {
    const names = [...new Set([...Object.keys(was.roles), ...Object.keys(is.roles)])].sort();
    const roles = names.filter((name) => JSON.stringify(was.roles[name]) !== JSON.stringify(is.roles[name]));
    why.push(`roles changed: ${roles.join(', ')}`);
  }
  if (a.cloudInit !== b.cloudInit) why.push('cloud-init changed');
  if (a.parent !== b.parent && recipe.base.kind === 'recipe') why.push(`parent recipe ${recipe.base.recipe} changed`);
  if (a.generator !== b.generator || a.base !== b.base) why.push('bake inputs changed');
  return why.length ? why : ['inputs changed'];
}

/** Loads the bakery at REF from git (without touching the clone) and compares it with the work tree. */
export async function changedSince(bakery: Bakery, ref: string): Promise<ChangedSince> {
  const commit = await resolveCommit(bakery.root, ref);
  const nowIds = await (await contentIdSourceFor(bakery.root)).idsUnder(watchedFolders(bakery));
  const now = { bakery, ids: nowIds };
  const scratch = await mkdtemp(path.join(tmpdir(), 'bake-changed-since-'));
  try {
    const dir = path.join(scratch, 'bakery');
    if (!(await extractBakeryAt(bakery.root, commit, dir))) return { ref, commit, changed: recipesChangedBetween(undefined, now) };
    let then: Bakery;
    try {
      then = await loadBakery(dir);
    } catch (error) {
      const reason = error instanceof BakeError ? error.toLine().split('\n')[0].replaceAll(dir, ref) : String(error);
      const all = new Map(bakery.recipes.map((r) => [r.name, [`the bakery at ${ref} does not load`]]));
      return { ref, commit, changed: all, unreadable: reason };
    }
    const thenIds = (await gitHistory(bakery.root, watchedFolders(then)).idsAt(commit)) ?? new Map<string, string>();
    return { ref, commit, changed: recipesChangedBetween({ bakery: then, ids: thenIds }, now) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The asked recipes narrowed to the changed ones, and the lines that say so. */
export function narrowToChanged(recipes: Recipe[], changes: ChangedSince): { recipes: Recipe[]; lines: string[] } {
  const kept = recipes.filter((r) => changes.changed.has(r.name));
  const lines = [`changed since ${changes.ref} (${changes.commit.slice(0, 12)}): ${kept.length ? kept.map((r) => r.name).join(', ') : 'no recipe'}`];
  if (changes.unreadable) lines.push(`  the bakery at ${changes.ref} does not load (${changes.unreadable}): every recipe counts as changed`);
  for (const recipe of kept) lines.push(`  ${recipe.name}: ${changes.changed.get(recipe.name)!.join('; ')}`);
  return { recipes: kept, lines };
}
