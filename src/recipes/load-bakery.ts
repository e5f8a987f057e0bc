import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { RecipeError, RecipeErrors, type SourceLocation } from '../errors/index.js';
import { resolveContained } from '../files/contained-path.js';
import { pathExists } from '../files/read-input-file.js';
import { discoverRoles, readCollectionRequirements } from '../roles/discover.js';
import { defaultBakeryName } from './bakery-name.js';
import { RecipeGraph } from './graph.js';
import { parseDuration } from './duration.js';
import { environmentConfigErrors, environmentTagBudget, pinEnvironmentErrors, promotionGatesOf } from './environments.js';
import { isReservedTagKey } from '../tags/tag-contract.js';
import { DEFAULT_LAUNCH_TEST_TIMEOUT_MS, type BaseImage, type Bakery, type BakeryConfig, type LaunchTestSpec, type Recipe, type VerifyCheck } from './model.js';
import { configSchema, recipeSchema, type RecipeDocument } from './schema.js';
import { parentArchitectureErrors, recipeVariants } from './architectures.js';
import { architectureOf, type Architecture } from '../tags/architecture.js';
import { readYamlSource, type YamlSource } from './yaml-source.js';

/** Extra vars bake passes to every play itself: a secret of that name would silently lose. */
const RESERVED_VARIABLES = new Set(['bake_recipe', 'bake_fingerprint']);
const MAX_USER_TAGS = 50 - 14; // EC2 allows 50 tags; bake's own take up to 14 (bake:arch the 14th)

function schemaErrors(source: YamlSource, error: z.ZodError): RecipeError[] {
  return error.issues.flatMap((issue) => issueErrors(source, issue as Issue, []));
}

type Issue = { code: string; path: PropertyKey[]; message: string; keys?: string[]; errors?: Issue[][]; issues?: Issue[] };

function issueErrors(source: YamlSource, issue: Issue, prefix: (string | number)[]): RecipeError[] {
  const at = [...prefix, ...(issue.path as (string | number)[])];
  if (issue.code === 'unrecognized_keys') return (issue.keys ?? []).map((key) => new RecipeError(`unknown key ${key}`, source.locate([...at, key], true)));
  const field = at.join('.');
  // A record key that fails its pattern: zod keeps the pattern's message inside.
  if (issue.code === 'invalid_key') return [new RecipeError(`${field}: ${issue.issues?.[0]?.message ?? issue.message}`, source.locate(at, true))];
  const missing = (issue.code === 'invalid_type' || issue.code === 'invalid_union') && at.length > 0 && valueAtPath(source.value, at) === undefined;
  if (missing) return [new RecipeError(`missing ${field}`, source.locate(at.slice(0, -1)))];
  if (issue.code === 'invalid_union' && issue.errors) {
    // Report the one form the user evidently meant (its keys are there, the value has its
    // shape); when none or several fit, the union's own "one of …" message says more.
    const fits = issue.errors.filter((branch) =>
      branch.every((i) => !(i.code === 'invalid_type' && (i.path.length === 0 || (i.path.length === 1 && valueAtPath(source.value, [...at, ...(i.path as (string | number)[])]) === undefined)))),
    );
    if (fits.length === 1) return fits[0].flatMap((inner) => issueErrors(source, inner, at));
  }
  return [new RecipeError(`${field ? `${field}: ` : ''}${issue.message.replace(/^Invalid input: /, '')}`, source.locate(at))];
}

function valueAtPath(value: unknown, at: (string | number)[]): unknown {
  return at.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), value);
}

async function loadConfig(root: string, errors: RecipeError[]): Promise<BakeryConfig> {
  const file = path.join(root, 'bake.config.yaml');
  let value: unknown = {};
  let source: YamlSource | undefined;
  if (await pathExists(file)) {
    try {
      source = await readYamlSource(file);
      value = source.value ?? {};
    } catch (error) {
      if (error instanceof RecipeError) errors.push(error);
      else throw error;
    }
  }
  const parsed = configSchema.safeParse(value);
  if (!parsed.success && source) errors.push(...schemaErrors(source, parsed.error));
  if (parsed.success && source) errors.push(...tagErrors(source, parsed.data.tags));
  if (parsed.success && source) errors.push(...environmentConfigErrors(source, parsed.data));
  if (parsed.success && source) errors.push(...configArchitectureErrors(source, parsed.data));
  const c = parsed.success ? parsed.data : configSchema.parse({});
  const identity = c.bakery ? { name: c.bakery, source: 'config' as const } : await defaultBakeryName(root);
  return {
    bakery: identity.name,
    bakerySource: identity.source,
    ...(identity.legacyName && { bakeryLegacyName: identity.legacyName }),
    regions: c.regions,
    instanceType: c.instance_type,
    ...(c.instance_types && Object.keys(c.instance_types).length > 0 && { instanceTypes: c.instance_types }),
    architectures: [...new Set(c.architectures)],
    sshUsername: c.ssh_username,
    tags: c.tags,
    subnetId: c.subnet_id,
    encrypted: c.encrypted,
    imdsv2: c.imdsv2,
    deprecateAfterDays: c.deprecate_after_days,
    pinRoots: c.pin_roots.map((dir) => path.resolve(root, dir)),
    ...(c.scan_max_age && { scanMaxAgeMs: parseDuration(c.scan_max_age)! }),
    ...(c.upgrade && { upgrade: c.upgrade }),
    ...(c.rebuild_on && { rebuildOn: c.rebuild_on }),
    ...(c.local?.machine && { localMachine: c.local.machine }),
    environments: c.environments ?? [],
    promotion: promotionGatesOf(c.promotion),
  };
}

/** The config's instance types must be of the architecture they are given for; each architecture once. */
function configArchitectureErrors(source: YamlSource, config: { architectures: Architecture[]; instance_types: Partial<Record<Architecture, string>> }): RecipeError[] {
  const errors: RecipeError[] = [];
  const repeated = config.architectures.filter((arch, i) => config.architectures.indexOf(arch) !== i);
  if (repeated.length) errors.push(new RecipeError(`architectures lists ${[...new Set(repeated)].join(', ')} more than once`, source.locate(['architectures'])));
  for (const [arch, type] of Object.entries(config.instance_types) as [Architecture, string][]) {
    if (architectureOf(type) !== arch) errors.push(new RecipeError(`instance type ${type} is ${architectureOf(type)}, not ${arch}`, source.locate(['instance_types', arch])));
  }
  return errors;
}

/** Pin targets must resolve (symlinks followed) into the bakery or one of its pin_roots. */
async function pinTargetErrors(root: string, config: BakeryConfig, recipe: Recipe): Promise<RecipeError[]> {
  const errors: RecipeError[] = [];
  for (const target of recipe.pin) {
    const where = await resolveContained(target.file, [root, ...config.pinRoots]);
    if (!where.inside)
      errors.push(new RecipeError(`pin file ${target.fileAsWritten} ${where.reason}; bake pins only inside the bakery or a folder listed in pin_roots (bake.config.yaml)`, target.location));
  }
  return errors;
}

function toBase(base: RecipeDocument['base']): BaseImage {
  if ('ami' in base) return { kind: 'ami', ami: base.ami };
  if ('filter' in base) return { kind: 'filter', name: base.filter.name, owners: base.filter.owners };
  if ('ssm' in base) return { kind: 'ssm', parameter: base.ssm };
  return { kind: 'recipe', recipe: base.recipe };
}

type CheckDocument = RecipeDocument['verify'][number];

function toCheck(check: CheckDocument, location: SourceLocation): VerifyCheck {
  if ('command' in check) return { kind: 'command', command: check.command, location };
  if ('file' in check) return { kind: 'file', path: check.file, contains: check.contains, location };
  if ('package' in check) return { kind: 'package', name: check.package, location };
  if ('service' in check) return { kind: 'service', name: check.service, location };
  return { kind: 'port', port: check.port, location };
}

/** Absent `launch_test:` is the default test: no user-data, the verify checks, 10 minutes. */
function toLaunchTest(source: YamlSource, doc: RecipeDocument): LaunchTestSpec {
  const at = (...p: (string | number)[]) => source.locate(p);
  const spec = doc.launch_test;
  const location = spec === undefined ? source.locate(['name'], true) : source.locate(['launch_test'], true);
  if (typeof spec === 'boolean' || spec === undefined) {
    return { enabled: spec !== false, userData: [], checks: [], timeoutMs: DEFAULT_LAUNCH_TEST_TIMEOUT_MS, location };
  }
  return {
    enabled: true,
    userData: spec.user_data.map((use, i) => ({ template: use.template, vars: use.vars, location: at('launch_test', 'user_data', i) })),
    checks: spec.checks.map((check, i) => toCheck(check, at('launch_test', 'checks', i))),
    timeoutMs: spec.timeout === undefined ? DEFAULT_LAUNCH_TEST_TIMEOUT_MS : parseDuration(spec.timeout)!,
    instanceType: spec.instance_type,
    location,
  };
}

function toRecipe(source: YamlSource, doc: RecipeDocument, config: BakeryConfig): Recipe {
  const at = (...p: (string | number)[]) => source.locate(p);
  // A target that names no environment belongs to the first: bakeries without environments are unchanged.
  const environmentOf = (target: { environment?: string }) => {
    const environment = target.environment ?? config.environments[0];
    return environment === undefined ? {} : { environment };
  };
  const locations = Object.fromEntries(Object.keys(doc).map((key) => [key, source.locate([key], true)]));
  if ('recipe' in doc.base) locations['base.recipe'] = source.locate(['base', 'recipe']);
  const verify: VerifyCheck[] = doc.verify.map((check, i) => toCheck(check, at('verify', i)));
  const roleUses = (uses: RecipeDocument['roles'], at: (i: number) => SourceLocation) =>
    uses.map((role, i) => (typeof role === 'string' ? { name: role, vars: {}, location: at(i) } : { name: role.name, vars: role.vars, location: at(i) }));
  return {
    name: doc.name,
    description: doc.description,
    file: source.file,
    base: toBase(doc.base),
    regions: doc.regions ?? config.regions,
    instanceType: doc.instance_type ?? config.instanceType,
    sshUsername: doc.ssh_username ?? config.sshUsername,
    roles: roleUses(doc.roles, (i) => at('roles', i)),
    cloudInit: doc.cloud_init.map((use, i) => ({ template: use.template, vars: use.vars, location: at('cloud_init', i) })),
    tags: { ...config.tags, ...doc.tags },
    pin: doc.pin.flatMap((target, i) =>
      'ssm' in target
        ? []
        : [
            {
              file: path.resolve(path.dirname(source.file), target.file),
              fileAsWritten: target.file,
              variable: target.variable,
              key: target.key,
              format: target.format,
              ...environmentOf(target),
              location: at('pin', i),
            },
          ],
    ),
    ssmPins: doc.pin.flatMap((target, i) => ('ssm' in target ? [{ parameter: target.ssm, ...environmentOf(target), location: at('pin', i) }] : [])),
    subnetId: doc.subnet_id ?? config.subnetId,
    volumeSizeGb: doc.volume_size,
    encrypted: doc.encrypted ?? config.encrypted,
    kmsKeyIds: doc.kms_key_ids,
    imdsv2: doc.imdsv2 ?? config.imdsv2,
    shareWith: doc.share_with,
    deprecateAfterDays: doc.deprecate_after_days ?? config.deprecateAfterDays,
    verify,
    launchTest: toLaunchTest(source, doc),
    ansibleEnv: doc.ansible_env,
    secrets: Object.entries(doc.secrets).map(([name, from]) => ({
      name,
      source: 'env' in from ? { kind: 'env', variable: from.env } : { kind: 'ssm', parameter: from.ssm },
      location: source.locate(['secrets', name], true),
    })),
    ...(doc.boot && {
      boot: {
        roles: roleUses(doc.boot.roles, (i) => at('boot', 'roles', i)),
        varsFromUserData: doc.boot.vars_from_user_data,
        location: source.locate(['boot'], true),
      },
    }),
    locations,
    ...upgradeOf(doc.upgrade ?? config.upgrade),
    ...((doc.rebuild_on ?? config.rebuildOn)?.length && { rebuildOn: doc.rebuild_on ?? config.rebuildOn }),
    ...((doc.local?.machine ?? config.localMachine) === 'vm' && { localMachine: 'vm' as const }),
  };
}

/** `none` (and no key at all) leaves the recipe as it was before the key existed: same template, same fingerprint. */
function upgradeOf(value: 'security' | 'all' | 'none' | undefined): { upgrade?: 'security' | 'all' } {
  return value && value !== 'none' ? { upgrade: value } : {};
}


function recipeRuleErrors(source: YamlSource, recipe: Recipe, config: BakeryConfig): RecipeError[] {
  const errors: RecipeError[] = [];
  const expected = path.basename(source.file).replace(/\.ya?ml$/, '');
  if (recipe.name !== expected) errors.push(new RecipeError(`name ${recipe.name} must match the file name (${expected})`, source.locate(['name'])));
  const ownTags = ((source.value as { tags?: Record<string, unknown> }).tags ?? {}) as Record<string, string>;
  errors.push(...tagErrors(source, ownTags));
  const maxUserTags = MAX_USER_TAGS - environmentTagBudget(config);
  if (Object.keys(recipe.tags).length > maxUserTags)
    errors.push(new RecipeError(`at most ${maxUserTags} tags (EC2 allows 50, bake uses the rest${config.environments.length ? ', environments included' : ''})`, source.locate(['tags'])));
  const repeated = recipe.regions.filter((region, i) => recipe.regions.indexOf(region) !== i);
  if (repeated.length) errors.push(new RecipeError(`regions lists ${[...new Set(repeated)].join(', ')} more than once`, source.locate(['regions'])));
  if (!recipe.encrypted && Object.keys(recipe.kmsKeyIds).length > 0)
    errors.push(new RecipeError('kms_key_ids needs encrypted: true', source.locate(['kms_key_ids'], true)));
  // AWS cannot share snapshots encrypted with the default aws/ebs key with another account.
  const defaultKeyRegions = recipe.regions.filter((region) => !recipe.kmsKeyIds[region]);
  if (recipe.shareWith.length > 0 && recipe.encrypted && defaultKeyRegions.length > 0)
    errors.push(
      new RecipeError(
        `share_with needs a customer managed KMS key in kms_key_ids for ${defaultKeyRegions.join(', ')}: images encrypted with the default EBS key cannot be shared`,
        source.locate(['share_with'], true),
      ),
    );
  for (const secret of recipe.secrets ?? []) {
    if (RESERVED_VARIABLES.has(secret.name)) errors.push(new RecipeError(`secret ${secret.name}: the name is bake's own variable`, secret.location));
  }
  for (const [region, key] of Object.entries(recipe.kmsKeyIds)) {
    const arnRegion = /^arn:[^:]+:kms:([^:]+):/.exec(key)?.[1];
    if (arnRegion && arnRegion !== region)
      errors.push(new RecipeError(`kms_key_ids.${region} is a key in ${arnRegion}: EC2 encrypts a region's copy only with a key of that region`, source.locate(['kms_key_ids', region])));
    if (!recipe.regions.includes(region)) errors.push(new RecipeError(`kms_key_ids names ${region}, which is not in regions`, source.locate(['kms_key_ids', region], true)));
  }
  return errors;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** EC2's rules for tag keys and values, plus the prefixes bake and AWS keep for themselves. */
function tagErrors(source: YamlSource, tags: Record<string, string>): RecipeError[] {
  const errors: RecipeError[] = [];
  for (const [key, value] of Object.entries(tags)) {
    const where = source.locate(['tags', key], true);
    if (isReservedTagKey(key)) errors.push(new RecipeError(`tag ${key}: the bake: and aws: prefixes are reserved`, where));
    else if (key === 'Name') errors.push(new RecipeError('tag Name is set by bake (recipe, fingerprint and build time)', where));
    if ([...key].length > 128) errors.push(new RecipeError(`tag ${key.slice(0, 20)}…: keys are at most 128 characters`, where));
    // EC2 refuses control characters in tags; found after a whole bake, it would leave the image untagged.
    if (CONTROL.test(key)) errors.push(new RecipeError(`tag ${JSON.stringify(key)}: keys cannot hold control characters`, where));
    if (typeof value === 'string' && CONTROL.test(value))
      errors.push(new RecipeError(`tag ${JSON.stringify(key)}: values cannot hold control characters (${JSON.stringify(value)})`, source.locate(['tags', key])));
    if (typeof value === 'string' && [...value].length > 256) errors.push(new RecipeError(`tag ${key}: values are at most 256 characters`, source.locate(['tags', key])));
  }
  return errors;
}

/**
 * Loads the bakery at `root` and checks it whole: every problem is collected, and thrown
 * together as one RecipeErrors sorted by file and line.
 */
export async function loadBakery(root: string): Promise<Bakery> {
  const { bakery, errors } = await readBakery(root);
  if (errors.length) throw sortedErrors(errors);
  return bakery;
}

/** The bakery as far as it could be read, and every problem found on the way. */
export async function readBakery(root: string): Promise<{ bakery: Bakery; errors: RecipeError[] }> {
  const absoluteRoot = path.resolve(root);
  const errors: RecipeError[] = [];
  const config = await loadConfig(absoluteRoot, errors);
  const recipesDir = path.join(absoluteRoot, 'recipes');
  const files = (await readdir(recipesDir).catch(() => [] as string[])).filter((f) => /\.ya?ml$/.test(f)).sort();
  if (files.length === 0) errors.push(new RecipeError('no recipes found (expected recipes/*.yaml)', { file: recipesDir, line: 1, col: 1 }));
  const recipes: Recipe[] = [];
  errors.push(...sameRecipeTwice(recipesDir, files));
  for (const name of files) {
    const file = path.join(recipesDir, name);
    let source: YamlSource;
    try {
      source = await readYamlSource(file);
    } catch (error) {
      if (error instanceof RecipeError) {
        errors.push(error);
        continue;
      }
      throw error;
    }
    let parsed = recipeSchema.safeParse(source.value ?? {});
    if (!parsed.success) {
      errors.push(...schemaErrors(source, parsed.error));
      // Unknown keys alone still leave a usable recipe: keep checking it so one run reports everything.
      const onlyUnknownKeys = parsed.error.issues.every((i) => i.code === 'unrecognized_keys' && i.path.length === 0);
      if (!onlyUnknownKeys) continue;
      const known = Object.keys(recipeSchema.shape);
      parsed = recipeSchema.safeParse(Object.fromEntries(Object.entries(source.value as object).filter(([k]) => known.includes(k))));
      if (!parsed.success) continue;
    }
    const recipe = toRecipe(source, parsed.data, config);
    errors.push(...recipeRuleErrors(source, recipe, config), ...(await pinTargetErrors(absoluteRoot, config, recipe)));
    // One recipe per architecture it builds (src/recipes/architectures.ts); itself when it names none.
    const variants = recipeVariants({ source, doc: parsed.data, config, recipe });
    errors.push(...variants.errors);
    recipes.push(...variants.recipes);
  }
  const { roles, errors: roleErrors } = await discoverRoles(absoluteRoot);
  errors.push(...roleErrors);
  for (const recipe of recipes) {
    for (const use of [...recipe.roles, ...(recipe.boot?.roles ?? [])]) {
      if (!roles.has(use.name)) errors.push(new RecipeError(`unknown role ${use.name} (not under roles/ nor in roles/requirements.yml)`, use.location));
    }
  }
  const { collections, errors: collectionErrors } = await readCollectionRequirements(absoluteRoot);
  errors.push(...collectionErrors);
  const parents = parentArchitectureErrors(recipes);
  errors.push(...parents.errors);
  // The graph is over (recipe, architecture) pairs: one problem of a recipe is said once, at its line.
  const graphErrors = RecipeGraph.of(recipes.filter((recipe) => !parents.unbuildable.has(recipe.name))).errors();
  errors.push(...graphErrors.filter((error, i) => graphErrors.findIndex((other) => sameLocation(other.location, error.location)) === i));
  errors.push(...pinEnvironmentErrors(config, recipes));
  return { bakery: { root: absoluteRoot, config, recipes, roles, ...(collections.length && { collections }) }, errors: onceEach(errors) };
}

const sameLocation = (a: SourceLocation, b: SourceLocation) => a.file === b.file && a.line === b.line && a.col === b.col;

/** A recipe's architectures share its file: a problem of the file is reported once, not once per architecture. */
function onceEach(errors: RecipeError[]): RecipeError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const line = error.toLine();
    if (seen.has(line)) return false;
    seen.add(line);
    return true;
  });
}

/** `web.yaml` beside `web.yml`: one of them is stale, and which one wins must not be an accident. */
function sameRecipeTwice(recipesDir: string, files: string[]): RecipeError[] {
  const byName = new Map<string, string[]>();
  for (const file of files) {
    const name = file.replace(/\.ya?ml$/, '');
    byName.set(name, [...(byName.get(name) ?? []), file]);
  }
  return [...byName.values()]
    .filter((group) => group.length > 1)
    .map((group) => new RecipeError(`recipe ${group[0].replace(/\.ya?ml$/, '')} is defined by both ${group.join(' and ')}; delete one`, { file: path.join(recipesDir, group[1]), line: 1, col: 1 }));
}

/** Every problem at once, in file and line order. */
export function sortedErrors(errors: RecipeError[]): RecipeErrors {
  return new RecipeErrors(
    [...errors].sort((a, b) => a.location.file.localeCompare(b.location.file) || a.location.line - b.location.line || a.location.col - b.location.col),
  );
}
