/**
 * `bake plan --changed-since REF`: only the recipes whose image inputs differ between REF and
 * the work tree. The comparison is the fingerprint itself, computed for both trees, so it is as
 * exact as the plan: a change to a role any recipe reaches through meta dependencies counts, a
 * reformatted recipe or a README edit does not, and a changed parent carries over to its
 * children. Base images are left out on purpose: a moved `filter:` or `ssm:` base is not a git
 * change (a plain `bake plan` sees it).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BakeError } from '../errors/index.js';
import { contentIdSourceFor } from '../fingerprint/content-ids.js';
import { componentDigests, relativeToRoot, watchedFolders, type RecipeInputs } from '../fingerprint/fingerprint.js';
import { fingerprintBakery, type RecipeFingerprint } from '../fingerprint/fingerprint-bakery.js';
import { roleClosureOf } from '../fingerprint/role-closure.js';
import { gitHistory } from '../fingerprint/history.js';
import { bakeryExistsAt, pathsChangedSince, resolveCommit, writeFilesAt } from '../git/tree-at.js';
import { GENERATOR_VERSION } from '../packer/generator-version.js';
import { RecipeGraph } from '../recipes/graph.js';
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

/** Fingerprints of the named recipes (all when not given) and of the parents they need. */
function fingerprintAll(snapshot: BakerySnapshot, only?: Set<string>): Map<string, RecipeFingerprint> {
  const recipes = snapshot.bakery.recipes.filter((recipe) => !only || only.has(recipe.name));
  // No bases: the base spec is part of the recipe's settings; what it resolves to today is not a git change.
  return fingerprintBakery(snapshot.bakery, recipes, { ids: snapshot.ids, generator: GENERATOR_VERSION });
}

/**
 * Pure: which of today's recipes would fingerprint differently at REF, and why. `candidates`:
 * the only recipes that can differ (the others are not fingerprinted at all).
 */
export function recipesChangedBetween(
  then: BakerySnapshot | undefined,
  now: BakerySnapshot,
  candidates?: Set<string>,
): Map<string, string[]> {
  const before = then ? fingerprintAll(then, candidates) : new Map<string, RecipeFingerprint>();
  const after = fingerprintAll(now, candidates);
  const changed = new Map<string, string[]>();
  for (const recipe of now.bakery.recipes) {
    if (candidates && !candidates.has(recipe.name)) continue;
    const was = before.get(recipe.name);
    const is = after.get(recipe.name)!;
    if (!was) {
      changed.set(recipe.name, [then ? 'new recipe' : 'the bakery did not exist there']);
      continue;
    }
    if (was.fingerprint.value === is.fingerprint.value) continue;
    changed.set(recipe.name, differences(recipe, was.inputs, is.inputs));
  }
  return changed;
}

/**
 * When the bakery loads the same at REF, the recipes that can differ: those reaching a role
 * folder or cloud-init template with a changed path, and their descendants.
 */
export function recipesTouchedBy(bakery: Bakery, changedPaths: string[]): Set<string> {
  const changedFolders = new Set<string>();
  for (const file of changedPaths)
    for (let at = file.indexOf('/'); at > 0; at = file.indexOf('/', at + 1)) changedFolders.add(file.slice(0, at));
  const changedFiles = new Set(changedPaths);
  const touched = new Set<string>();
  for (const recipe of RecipeGraph.of(bakery.recipes).inBuildOrder()) {
    const parentTouched = recipe.base.kind === 'recipe' && touched.has(recipe.base.recipe);
    const roleTouched = () =>
      roleClosureOf(bakery.roles, recipe.roles).some(
        (role) => role.source === 'local' && changedFolders.has(relativeToRoot(bakery.root, role.dir)),
      );
    const templateTouched = () => recipe.cloudInit.some((use) => changedFiles.has(`cloud-init/${use.template}`));
    if (parentTouched || roleTouched() || templateTouched()) touched.add(recipe.name);
  }
  return touched;
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

/**
 * What loading a bakery reads (src/recipes/load-bakery.ts, src/roles/discover.ts): the config,
 * the recipes, galaxy requirements, and each role's tasks/main.yml (whether it exists) and
 * meta/main.yml. Every other file only counts through its blob id.
 */
const READ_BY_LOADING =
  /^(bake\.config\.yaml|recipes\/[^/]+\.ya?ml|roles\/requirements\.yml|collections\/requirements\.yml|roles\/[^/]+\/(tasks|meta)\/main\.yml)$/;

/** A changed path that can change what the bakery loads as: a loaded file, or anything in a role folder that is not a role today (removed, or broken). */
function changesLoading(bakery: Bakery, file: string): boolean {
  if (READ_BY_LOADING.test(file)) return true;
  const role = /^roles\/([^/]+)\//.exec(file)?.[1];
  return role !== undefined && bakery.roles.get(role)?.source !== 'local';
}

/**
 * History knows which galaxy versions requirements.yml named, not which commits they resolved to
 * back then: both sides are compared by version (a moved tag shows in a plain plan instead).
 */
function withoutResolvedCommits(bakery: Bakery): Bakery {
  return {
    ...bakery,
    roles: new Map([...bakery.roles].map(([name, role]) => [name, { ...role, commit: undefined }])),
    ...(bakery.collections && {
      collections: bakery.collections.map((collection) => ({ ...collection, commit: undefined })),
    }),
  };
}

/**
 * Today's bakery fingerprinted against REF's, from git's blob ids. When no file that loading
 * reads changed since REF (the usual case: a role or template edit), REF's bakery is today's
 * with REF's ids; otherwise only the files loading reads are written out from git and loaded.
 */
export async function changedSince(installed: Bakery, ref: string): Promise<ChangedSince> {
  const bakery = withoutResolvedCommits(installed);
  const root = bakery.root;
  const commit = await resolveCommit(root, ref);
  // Independent questions to git, asked at once.
  const [existed, changes, nowIds] = await Promise.all([
    bakeryExistsAt(root, commit),
    pathsChangedSince(root, commit),
    contentIdSourceFor(root).then((source) => source.idsUnder(watchedFolders(bakery))),
  ]);
  const now = { bakery, ids: nowIds };
  if (!existed) return { ref, commit, changed: recipesChangedBetween(undefined, now) };
  const changedPaths = [...changes.keys()];
  if (changedPaths.length === 0) return { ref, commit, changed: new Map() };

  if (!changedPaths.some((file) => changesLoading(bakery, file))) {
    // REF's bakery is today's with REF's blob ids where files changed: only recipes reaching those are fingerprinted.
    const thenIds = new Map(nowIds);
    for (const [file, id] of changes) {
      if (id) thenIds.set(file, id);
      else thenIds.delete(file);
    }
    return {
      ref,
      commit,
      changed: recipesChangedBetween({ bakery, ids: thenIds }, now, recipesTouchedBy(bakery, changedPaths)),
    };
  }
  const loaded = await loadBakeryAt(root, commit, ref);
  if ('unreadable' in loaded) {
    const all = new Map(bakery.recipes.map((r) => [r.name, [`the bakery at ${ref} does not load`]]));
    return { ref, commit, changed: all, unreadable: loaded.unreadable };
  }
  const thenIds = (await gitHistory(root, watchedFolders(loaded.bakery)).idsAt(commit)) ?? new Map<string, string>();
  return { ref, commit, changed: recipesChangedBetween({ bakery: loaded.bakery, ids: thenIds }, now) };
}

/** The bakery at the commit, loaded from only the files loading reads, written to a scratch folder. */
async function loadBakeryAt(
  root: string,
  commit: string,
  ref: string,
): Promise<{ bakery: Bakery } | { unreadable: string }> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'bake-changed-since-'));
  try {
    const dir = path.join(scratch, 'bakery');
    await mkdir(dir);
    await writeFilesAt(root, commit, dir, (file) => READ_BY_LOADING.test(file));
    try {
      // Fingerprints name role folders relative to the bakery root, so the scratch root serves as well as the real one.
      return { bakery: await loadBakery(dir) };
    } catch (error) {
      return {
        unreadable: error instanceof BakeError ? error.toLine().split('\n')[0].replaceAll(dir, ref) : String(error),
      };
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The asked recipes narrowed to the changed ones, and the lines that say so. */
export function narrowToChanged(recipes: Recipe[], changes: ChangedSince): { recipes: Recipe[]; lines: string[] } {
  const kept = recipes.filter((r) => changes.changed.has(r.name));
  const lines = [
    `changed since ${changes.ref} (${changes.commit.slice(0, 12)}): ${kept.length ? kept.map((r) => r.name).join(', ') : 'no recipe'}`,
  ];
  if (changes.unreadable)
    lines.push(`  the bakery at ${changes.ref} does not load (${changes.unreadable}): every recipe counts as changed`);
  for (const recipe of kept) lines.push(`  ${recipe.name}: ${changes.changed.get(recipe.name)!.join('; ')}`);
  return { recipes: kept, lines };
}
