/**
 * `bake init`: a new bakery that validates and builds locally as it is written — a config naming
 * the bakery, one base recipe with verify checks and a launch test, one role, cloud-init
 * templates, an example Terraform stack whose tfvars bake pins, a Jenkinsfile calling
 * `npx bake`, a .gitignore. A file that already exists is kept as it is, never overwritten.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { BakeError, UsageError } from '../errors/index.js';
import { shellQuote } from '../escape/shell-word.js';
import { resolveContained } from '../files/contained-path.js';
import { createFileExclusive } from '../files/create-file.js';
import { BAKERY_NAME, defaultBakeryName, type BakeryNameSource } from '../recipes/bakery-name.js';
import { scaffoldFiles } from '../scaffold/scaffold.js';

export interface InitOptions {
  /** The bakery's name; default: derived from the git remote (else the folder), as bake would derive it. */
  name?: string;
  /** Write nothing: say what would be created and what kept. */
  check?: boolean;
}

export type InitAction = 'created' | 'kept' | 'would create';

export interface InitResult {
  root: string;
  bakery: string;
  bakerySource: BakeryNameSource | 'option';
  files: { path: string; action: InitAction }[];
}

/** Where editors find the recipe schema once bake is installed: the package in node_modules. */
const INSTALLED_SCHEMA = path.join('node_modules', 'bake', 'schema', 'recipe.schema.json');

export async function initBakery(root: string, options: InitOptions = {}): Promise<InitResult> {
  const { name, source } = await bakeryName(root, options.name);
  const files = scaffoldFiles({ bakery: name, recipeSchema: await recipeSchemaPath(root) });
  // Every target is checked before anything is written: a link leading out refuses the whole init.
  for (const file of files) {
    const target = path.join(root, file.path);
    const contained = await resolveContained(target, [root]);
    if (!contained.inside)
      throw new BakeError(`${target}: ${contained.reason}; bake init writes only inside the bakery`);
  }
  const written: InitResult['files'] = [];
  for (const file of files) {
    const target = path.join(root, file.path);
    let action: InitAction;
    if (options.check) action = (await exists(target)) ? 'kept' : 'would create';
    else action = (await createFileExclusive(target, file.text)) === 'created' ? 'created' : 'kept';
    written.push({ path: file.path, action });
  }
  return { root, bakery: name, bakerySource: source, files: written };
}

async function bakeryName(
  root: string,
  given: string | undefined,
): Promise<{ name: string; source: BakeryNameSource | 'option' }> {
  if (given !== undefined) {
    if (!BAKERY_NAME.test(given))
      throw new UsageError(
        `--name ${JSON.stringify(given)}: a bakery name is 1 to 128 letters, digits and . _ - /, starting with a letter or digit`,
      );
    return { name: given, source: 'option' };
  }
  return defaultBakeryName(root);
}

/** The installed package's schema, relative to recipes/ (node_modules may sit above the bakery in a monorepo). */
async function recipeSchemaPath(root: string): Promise<string> {
  const recipes = path.join(root, 'recipes');
  for (let dir = path.resolve(root); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, INSTALLED_SCHEMA);
    if (await exists(candidate)) return path.relative(recipes, candidate).split(path.sep).join('/');
    if (path.dirname(dir) === dir) break;
  }
  return path.relative(recipes, path.join(root, INSTALLED_SCHEMA)).split(path.sep).join('/');
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

/** `bake init --json` (schema/init.schema.json). */
export function initJson(result: InitResult) {
  return {
    bakery: result.bakery,
    bakery_source: result.bakerySource,
    files: result.files.map((file) => ({ path: file.path, action: file.action })),
  };
}

/** One line per file: what was created, and every file kept as it was. */
export function initLines(result: InitResult): string[] {
  return result.files.map((file) =>
    file.action === 'kept' ? `kept ${file.path} (exists)` : `${file.action} ${file.path}`,
  );
}

/** What to run next, when something was created. */
export function initNextSteps(result: InitResult): string[] {
  if (!result.files.some((file) => file.action === 'created')) return [];
  const relative = path.relative(process.cwd(), result.root);
  const where = relative.startsWith('..') ? result.root : relative;
  const dir = where === '' ? '' : ` --dir ${/^[\w./-]+$/.test(where) ? where : shellQuote(where)}`;
  const from = result.bakerySource === 'option' ? '--name' : `the ${result.bakerySource}`;
  return [
    `bakery ${result.bakery} (from ${from}); next:`,
    `  npx bake validate${dir}`,
    `  npx bake verify base${dir}     # the roles in a kept local instance, each check reported`,
    `  npx bake build --local${dir}   # bake, launch-test and pin on this machine's local cloud`,
  ];
}

/** With --check: 2 when a file would be created, as `bake pin --check` says 2 when a file would change. */
export function initExitCode(result: InitResult, check: boolean): number {
  return check && result.files.some((file) => file.action === 'would create') ? 2 : 0;
}
