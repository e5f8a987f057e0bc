/**
 * Why a recipe's fingerprint differs from its newest image's, in words a reviewer understands:
 * which role files, which base image, which settings. Exact file names come from comparing
 * today's content ids with the tree at the image's `bake:git-commit`; without that commit the
 * image's `bake:inputs` tag still tells which kind of input changed.
 */
import { parse as parseYaml } from 'yaml';
import type { ImageRecord } from '../aws/image-record.js';
import { BASE_AMI_TAG, GIT_COMMIT_TAG, INPUTS_TAG } from '../tags/tag-contract.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { canonicalJson } from './canonical-json.js';
import { filesOf, relativeToRoot, type Fingerprint, type RecipeInputs } from './fingerprint.js';
import type { BakeryHistory } from './history.js';
import { parseInputsTag, type Component } from './inputs-tag.js';
import { roleClosureOf } from './role-closure.js';

export interface ChangeQuestion {
  bakery: Bakery;
  recipe: Recipe;
  inputs: RecipeInputs;
  fingerprint: Fingerprint;
  /** The recipe's newest image (by creation date). */
  previous: ImageRecord;
  history: BakeryHistory;
  /** The parent recipe is rebuilt by this same plan. */
  parentRebuilt: boolean;
  /** Name of the resolved base image, when known (for "moved from … to …"). */
  baseName?: string;
}

/** Files listed per role before "and N more": a reason is read by a person, not a diff tool. */
const FILES_PER_ROLE = 5;

export async function explainChange(question: ChangeQuestion): Promise<string[]> {
  const { previous, fingerprint } = question;
  const before = parseInputsTag(previous.tags[INPUTS_TAG]);
  const changed = (c: Component) =>
    before === undefined || before[c] === undefined || before[c] !== fingerprint.digests[c];
  const commit = previous.tags[GIT_COMMIT_TAG] ?? '';
  const oldIds = await question.history.idsAt(commit);
  const unavailable =
    commit && commit !== 'unknown'
      ? `details unavailable: commit ${commit.slice(0, 12)} not in this clone`
      : 'details unavailable: the image records no git commit';
  const reasons: string[] = [];

  let keys: string[] | undefined;
  if (changed('recipe')) {
    keys = await changedSettings(question, commit);
    if (keys?.length) reasons.push(`recipe settings changed: ${keys.join(', ')}`);
    else if (before)
      reasons.push(
        keys
          ? 'recipe settings changed (bakery-wide defaults)'
          : `recipe settings changed (${oldIds ? 'details unavailable' : unavailable})`,
      );
  }
  if (changed('roles')) {
    const details = oldIds ? await roleChanges(question, oldIds, commit) : undefined;
    if (details?.length) reasons.push(...details);
    // A role added to or dropped from the recipe's list is already said by "recipe settings changed: roles".
    else if (before && !keys?.includes('roles'))
      reasons.push(oldIds ? 'roles changed' : `roles changed (${unavailable})`);
  }
  if (changed('cloudInit')) {
    const details = oldIds ? cloudInitChanges(question, oldIds) : undefined;
    if (details?.length) reasons.push(...details);
    else if (before) reasons.push(oldIds ? 'cloud-init vars changed' : `cloud-init changed (${unavailable})`);
  }
  if (changed('base') && question.recipe.base.kind !== 'recipe') {
    const was = previous.tags[BASE_AMI_TAG];
    const now = question.inputs.base;
    const named = question.baseName ? ` (${question.baseName})` : '';
    if (was && was !== now) reasons.push(`base image moved from ${was} to ${now}${named}`);
    else if (before) reasons.push('base image changed');
  }
  if (before && changed('generator')) reasons.push("bake's template generator changed");
  if (question.recipe.base.kind === 'recipe' && (question.parentRebuilt || (before && changed('parent')))) {
    const parent = question.recipe.base.recipe;
    reasons.push(
      question.parentRebuilt ? `parent ${parent} is rebuilt` : `parent ${parent} changed since the newest image`,
    );
  }
  if (reasons.length === 0) {
    reasons.push(
      before
        ? `fingerprint changed (newest image ${previous.imageId} has ${previous.fingerprint})`
        : `fingerprint changed (newest image ${previous.imageId} predates the bake:inputs tag)`,
    );
  }
  return reasons;
}

/**
 * Top-level recipe keys whose parsed values differ between the recipe file at the image's commit
 * and today (YAML parsed, so formatting is not a change). Undefined when the old file is unknown.
 */
async function changedSettings(question: ChangeQuestion, commit: string): Promise<string[] | undefined> {
  const file = relativeToRoot(question.bakery.root, question.recipe.file);
  const [oldText, newText] = await Promise.all([question.history.fileAt(commit, file), question.history.fileNow(file)]);
  if (oldText === undefined || newText === undefined) return undefined;
  let oldDoc: Record<string, unknown>;
  let newDoc: Record<string, unknown>;
  try {
    oldDoc = (parseYaml(oldText) ?? {}) as Record<string, unknown>;
    newDoc = (parseYaml(newText) ?? {}) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const keys = new Set([...Object.keys(oldDoc), ...Object.keys(newDoc)]);
  // Not part of the image: pin targets; copy regions (only the build region, the first, is).
  keys.delete('pin');
  keys.delete('cloud_init');
  const changed: string[] = [];
  for (const key of keys) {
    let a: unknown = oldDoc[key];
    let b: unknown = newDoc[key];
    if (key === 'regions') {
      a = Array.isArray(a) ? a[0] : a;
      b = Array.isArray(b) ? b[0] : b;
    }
    if (canonicalJson(a) !== canonicalJson(b)) changed.push(key);
  }
  return changed.sort();
}

async function roleChanges(question: ChangeQuestion, oldIds: Map<string, string>, commit: string): Promise<string[]> {
  const { bakery, recipe, inputs } = question;
  const reasons: string[] = [];
  let oldGalaxy: Map<string, string> | undefined;
  for (const role of roleClosureOf(bakery.roles, [...recipe.roles, ...(recipe.boot?.roles ?? [])])) {
    const now = inputs.roles[role.name];
    if (typeof now === 'string') {
      oldGalaxy ??= await galaxyVersionsAt(question, commit);
      const was = oldGalaxy.get(role.name);
      // Then, only src@version was known; the commit it resolved to is not in git's history.
      const nowVersion = now.replace(/ \([0-9a-f]+\)$/, '');
      if (was !== undefined && was !== nowVersion) reasons.push(`role ${role.name}: ${was} → ${nowVersion}`);
      continue;
    }
    const old = filesOf(oldIds, relativeToRoot(bakery.root, role.dir));
    if (Object.keys(old).length === 0) {
      reasons.push(`role ${role.name} added`);
      continue;
    }
    const files: string[] = [];
    for (const [file, id] of Object.entries(now).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!(file in old)) files.push(`${file} added`);
      else if (old[file] !== id) files.push(`${file} changed`);
    }
    for (const file of Object.keys(old).sort()) if (!(file in now)) files.push(`${file} removed`);
    const shown = files.slice(0, FILES_PER_ROLE);
    if (files.length > FILES_PER_ROLE) shown.push(`and ${files.length - FILES_PER_ROLE} more files`);
    if (shown.length > 0) reasons.push(`role ${role.name}: ${shown.join(', ')}`);
  }
  return reasons;
}

/** `src@version` of each galaxy role in roles/requirements.yml at that commit. */
async function galaxyVersionsAt(question: ChangeQuestion, commit: string): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  const text = await question.history.fileAt(commit, 'roles/requirements.yml');
  if (text === undefined) return versions;
  try {
    const doc = parseYaml(text) as unknown;
    const entries = Array.isArray(doc) ? doc : ((doc as { roles?: unknown })?.roles ?? []);
    for (const entry of entries as Array<Record<string, unknown>>) {
      const src = String(entry?.src ?? entry?.name ?? '');
      const name = String(entry?.name ?? src);
      if (name) versions.set(name, `${src}@${String(entry?.version ?? '')}`);
    }
  } catch {
    // An old requirements file that no longer parses only costs the detail.
  }
  return versions;
}

function cloudInitChanges(question: ChangeQuestion, oldIds: Map<string, string>): string[] {
  const reasons: string[] = [];
  for (const use of question.inputs.cloudInit) {
    const was = oldIds.get(`cloud-init/${use.template}`);
    if (was === undefined) reasons.push(`cloud-init template ${use.template} added`);
    else if (was !== use.id) reasons.push(`cloud-init template ${use.template} changed`);
  }
  return reasons;
}
