/**
 * A recipe's fingerprint: everything that decides what its image contains, and nothing else.
 * Pure: the plan gathers content ids, resolved base images and parent fingerprints, then this
 * turns them into one short string and six component digests (for the `bake:inputs` tag).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS, type Bakery, type Recipe, type RoleUse } from '../recipes/model.js';
import { canonicalJson } from './canonical-json.js';
import { formatInputsTag, type ComponentDigests } from './inputs-tag.js';
import { roleClosureOf } from './role-closure.js';

/**
 * 16 hex = 64 bits. Images are only ever compared within one recipe (`bake:recipe` tag), so the
 * chance that two different inputs of one recipe collide is about n²/2⁶⁵: below 10⁻⁷ even after a
 * million builds of the same recipe. It is not a security boundary (whoever can change the input
 * can change the image), so a short, readable id wins over the full 256 bits.
 */
export const FINGERPRINT_HEX = 16;
/** Component digests only tell which kind of input changed: 48 bits is plenty and keeps the tag short. */
export const COMPONENT_HEX = 12;

/** What the fingerprint is computed from, each part already in canonical, comparable form. */
export interface RecipeInputs {
  /** The recipe's parsed settings, without where it is written, its pin targets or its copy regions. */
  recipe: unknown;
  /**
   * Role name → (path inside the role → content id) for local roles, or `src@version (commit)`
   * for galaxy roles; `collection:<name>` → the same for each collection.
   */
  roles: Record<string, Record<string, string> | string>;
  /** Each cloud-init template in order: its content id (null if missing) and its vars; then the launch test's user-data templates (`launchTest: true`). */
  cloudInit: Array<{ template: string; id: string | null; vars: unknown; launchTest?: true }>;
  /** The resolved base AMI of the build region, or `recipe:<name>` when built FROM another recipe. */
  base: string;
  /** The parent recipe's fingerprint, or null. */
  parent: string | null;
  generator: string;
}

export interface Fingerprint {
  value: string;
  digests: ComponentDigests;
  /** The `bake:inputs` tag value. */
  inputs: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The recipe as parsed, minus what is not part of the image: the file it lives in and where each
 * key was written (so reformatting is free), the pin targets (pinning happens after the bake),
 * the copy regions (a new region gets a copy, not a rebuild), sharing and deprecation (applied
 * to the existing images: src/lifecycle/distribution-settings.ts) and the cloud-init list (its
 * own component). The build region stays: it is where the base image is resolved and baked.
 * IMDSv2 and KMS keys stay too: an image made IMDSv2-only cannot be turned back, and a copy's
 * key is chosen when it is copied.
 */
export function recipeSettings(recipe: Recipe): Record<string, unknown> {
  const {
    file: _file,
    locations: _locations,
    pin: _pin,
    regions,
    cloudInit: _cloudInit,
    shareWith: _shareWith,
    deprecateAfterDays: _deprecateAfterDays,
    roles,
    verify,
    launchTest,
    secrets,
    boot,
    rebuildOn: _rebuildOn,
    name,
    recipeName,
    architecture,
    ...settings
  } = recipe;
  const tested = launchTestSettings(launchTest);
  const withoutLocation = ({ location: _location, ...use }: RoleUse) => use;
  return {
    // An architecture's image is named by the recipe it comes from; the architecture says which
    // it is. Only recipes that name architectures have one, so the others keep their fingerprints.
    name: recipeName ?? name,
    ...(architecture && { architecture }),
    ...settings,
    buildRegion: regions[0],
    roles: roles.map(withoutLocation),
    verify: verify.map(({ location: _location, ...check }) => check),
    ...(tested && { launchTest: tested }),
    // Only present when used, so recipes without them keep the fingerprints they had. A secret's
    // name is part of what the roles see; its value and where it is read from are not.
    ...(secrets?.length && { secrets: secrets.map((secret) => secret.name).sort() }),
    ...(boot && { boot: { roles: boot.roles.map(withoutLocation), varsFromUserData: boot.varsFromUserData } }),
  };
}

/**
 * What an image's launch test proved belongs to it, like its verify checks: changed checks, user-data
 * vars, timeout or instance type bake and test again. The default test (and opting out, which
 * proves nothing more) adds nothing, so recipes that say nothing keep their fingerprints.
 */
function launchTestSettings(spec: Recipe['launchTest']): Record<string, unknown> | undefined {
  if (!spec?.enabled) return undefined;
  const { location: _location, enabled: _enabled, userData, checks, timeoutMs, instanceType } = spec;
  const isDefault =
    userData.length === 0 &&
    checks.length === 0 &&
    timeoutMs === DEFAULT_LAUNCH_TEST_TIMEOUT_MS &&
    instanceType === undefined;
  if (isDefault) return undefined;
  return {
    userData: userData.map(({ location: _l, ...use }) => use),
    checks: checks.map(({ location: _l, ...check }) => check),
    timeoutMs,
    ...(instanceType !== undefined && { instanceType }),
  };
}

export function relativeToRoot(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

/** The content ids under one folder (root-relative), keyed by path inside that folder. */
export function idsInside(ids: Map<string, string>, folder: string): Record<string, string> {
  const prefix = `${folder.replace(/\/+$/, '')}/`;
  const inside: Record<string, string> = {};
  for (const [file, id] of ids) if (file.startsWith(prefix)) inside[file.slice(prefix.length)] = id;
  return inside;
}

export interface InputsContext {
  bakery: Bakery;
  /** Content ids of the bakery's files, root-relative (ContentIdSource.idsUnder). */
  ids: Map<string, string>;
  /** The resolved base of the recipe's build region (ignored for recipe bases). */
  baseAmi: string;
  parentFingerprint?: string;
  generator: string;
}

export function recipeInputs(recipe: Recipe, context: InputsContext): RecipeInputs {
  const { bakery, ids } = context;
  const roles: RecipeInputs['roles'] = {};
  for (const role of roleClosureOf(bakery.roles, [...recipe.roles, ...(recipe.boot?.roles ?? [])])) {
    roles[role.name] =
      role.source === 'galaxy'
        ? galaxyInput(role.src ?? role.name, role.version, role.commit)
        : filesOf(ids, relativeToRoot(bakery.root, role.dir));
  }
  // Any role may use any collection: each one counts for every recipe.
  for (const collection of bakery.collections ?? [])
    roles[`collection:${collection.name}`] = galaxyInput(collection.name, collection.version, collection.commit);
  return {
    recipe: recipeSettings(recipe),
    roles,
    cloudInit: [
      ...recipe.cloudInit.map((use) => ({
        template: use.template,
        id: ids.get(`cloud-init/${use.template}`) ?? null,
        vars: use.vars,
      })),
      ...(recipe.launchTest?.enabled ? recipe.launchTest.userData : []).map((use) => ({
        template: use.template,
        id: ids.get(`cloud-init/${use.template}`) ?? null,
        vars: use.vars,
        launchTest: true as const,
      })),
    ],
    base: recipe.base.kind === 'recipe' ? `recipe:${recipe.base.recipe}` : context.baseAmi,
    parent: context.parentFingerprint ?? null,
    generator: context.generator,
  };
}

/**
 * `src@version`, plus the commit a git source resolved to when bake installed it: a tag moved to
 * another commit rebuilds the image even though requirements.yml did not change.
 */
export function galaxyInput(src: string, version: string | undefined, commit: string | undefined): string {
  return `${src}@${version ?? ''}${commit ? ` (${commit})` : ''}`;
}

const folderIndexes = new WeakMap<Map<string, string>, Map<string, Record<string, string>>>();

/**
 * The files of one folder (root-relative), keyed by path inside it. Prefix scans over 60,000 ids
 * per role are the hot path of a big plan, so ids are grouped by their first two path segments
 * (roles/<name>) once per id map; other folders fall back to a scan.
 */
export function filesOf(ids: Map<string, string>, folder: string): Record<string, string> {
  let index = folderIndexes.get(ids);
  if (!index) {
    index = new Map();
    for (const [file, id] of ids) {
      const second = file.indexOf('/', file.indexOf('/') + 1);
      if (second < 0) continue;
      const folder = file.slice(0, second);
      let files = index.get(folder);
      if (!files) index.set(folder, (files = {}));
      files[file.slice(second + 1)] = id;
    }
    folderIndexes.set(ids, index);
  }
  return folder.split('/').length === 2 ? { ...(index.get(folder) ?? {}) } : idsInside(ids, folder);
}

export function componentDigests(inputs: RecipeInputs): ComponentDigests {
  const digest = (value: unknown) => sha256(canonicalJson(value)).slice(0, COMPONENT_HEX);
  return {
    recipe: digest(inputs.recipe),
    roles: digest(inputs.roles),
    cloudInit: digest(inputs.cloudInit),
    base: digest(inputs.base),
    parent: inputs.parent === null ? '-' : digest(inputs.parent),
    generator: digest(inputs.generator),
  };
}

export function fingerprintOf(inputs: RecipeInputs): Fingerprint {
  const digests = componentDigests(inputs);
  // The fingerprint hashes the full inputs, not the short digests, so its 64 bits are all real.
  const value = sha256(canonicalJson(inputs)).slice(0, FINGERPRINT_HEX);
  return { value, digests, inputs: formatInputsTag(digests) };
}

/** The folders whose content goes into fingerprints: local roles and cloud-init templates. */
export function watchedFolders(bakery: Bakery): string[] {
  const folders = new Set(['roles', 'cloud-init']);
  for (const role of bakery.roles.values()) {
    if (role.source !== 'local') continue;
    const rel = relativeToRoot(bakery.root, role.dir);
    if (rel !== 'roles' && !rel.startsWith('roles/')) folders.add(rel);
  }
  return [...folders];
}
