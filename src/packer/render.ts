/**
 * The edge of template rendering: turns one recipe into the files Packer needs, written
 * atomically under OUT/<recipe>/:
 *   <recipe>.pkr.hcl   the Packer template
 *   playbook.yml       the Ansible playbook it runs
 *   verify.sh          the recipe's verify checks
 *   capture-cleanup.sh clears the logs the build left, last before capture
 *   cloud-init/*.cfg   rendered cloud-init drop-ins the playbook installs
 *   boot/              recipes with `boot:` only: what the playbook bakes in for first boot (src/boot/)
 */
import { existsSync } from 'node:fs';
import { cp, lstat, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { parse as parseYaml } from 'yaml';
import type { Bakery, Recipe } from '../recipes/model.js';
import { BakeError, RecipeError } from '../errors/index.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { CLOUD_INIT_SUBDIR, renderPlaybook } from './playbook.js';
import { BOOT_SUBDIR, bootPlaybook, bootScript, USER_DATA_VARS_SCRIPT } from '../boot/boot-files.js';
import { roleClosureOf } from '../fingerprint/role-closure.js';
import type { PackerShape, PackerTarget } from './target.js';
import { ansibleSettings, renderPackerTemplate, type ShapeGap } from './template.js';
import { ansibleCommandScript } from './ansible-env.js';
import { variableDefaults, type PackerVariables } from './variables.js';
import { renderVerifyScript } from './verify-script.js';
import { CAPTURE_CLEANUP_SCRIPT, CAPTURE_CLEANUP_SCRIPT_NAME } from './capture-cleanup.js';

export interface RenderedCloudInitFile {
  template: string;
  fileName: string;
  content: string;
}

/** Renders a recipe's cloud-init templates (src/cloud-init/render.ts in production). */
export type CloudInitRenderer = (bakery: Bakery, recipe: Recipe) => Promise<RenderedCloudInitFile[]>;

export interface RenderOptions {
  shape: PackerShape;
  target?: PackerTarget;
  /**
   * Written as the template's variable defaults. Builds should pass per-build values with a var
   * file instead (writePackerVariables), so the template text stays the same from one build of
   * a recipe to the next. For a base given by filter, a non-empty `source_ami` (default or var
   * file) replaces Packer's own lookup with the image the plan resolved and fingerprinted.
   */
  variables?: Partial<PackerVariables>;
  /** Defaults to bake's cloud-init renderer. */
  renderCloudInit?: CloudInitRenderer;
}

export interface RenderedRecipe {
  recipe: string;
  /** OUT/<recipe>, absolute. */
  dir: string;
  template: string;
  playbook: string;
  /** The `ansible-playbook` Packer runs: a wrapper that scrubs the environment. */
  ansibleCommand: string;
  verifyScript: string;
  /** Run last before capture: empties the logs the build left (./capture-cleanup.ts). */
  captureCleanupScript: string;
  /** Absolute paths of the rendered cloud-init files. */
  cloudInit: string[];
  /** Where the manifest post-processor will write (after `packer build`). */
  manifest: string;
  shape: PackerShape;
  sourceAmi: 'filter' | 'variable';
  /** Recipe settings this shape cannot express: the build applies them through EC2 instead. */
  gaps: ShapeGap[];
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function defaultCloudInitRenderer(bakery: Bakery, recipe: Recipe): Promise<RenderedCloudInitFile[]> {
  // Loaded on demand: a recipe without cloud-init never loads handlebars.
  const { renderCloudInit } = await import('../cloud-init/render.js');
  return renderCloudInit(bakery, recipe);
}

/** Which cloud-init files bake wrote into a folder last time: only those may be removed as stale. */
const WRITTEN_RECORD = '.bake-written';

async function removeStale(dir: string, keep: Set<string>): Promise<void> {
  const written = await readFile(path.join(dir, WRITTEN_RECORD), 'utf8').catch(() => '');
  const stale = written.split('\n').filter((name) => SAFE_NAME.test(name) && !keep.has(name));
  // rm on a link removes the link itself; files bake did not write (a user's notes) stay.
  await Promise.all(stale.map((name) => rm(path.join(dir, name), { force: true })));
}

/**
 * The output folder may hold links someone planted (a shared --out, a checked-in folder):
 * writing through one would replace whatever it points at. Every path bake writes is refused
 * when it, or a folder on the way below the output folder, is a symbolic link.
 */
async function refuseLinks(outDir: string, targets: string[]): Promise<void> {
  const checked = new Set<string>();
  for (const target of targets) {
    let current = target;
    while (current.startsWith(`${outDir}${path.sep}`) && !checked.has(current)) {
      checked.add(current);
      const info = await lstat(current).catch(() => undefined);
      if (info?.isSymbolicLink())
        throw new BakeError(
          `${current}: is a symbolic link; bake never writes through links in its output folder (remove it)`,
        );
      current = path.dirname(current);
    }
  }
}

/**
 * `boot/` beside the playbook, copied into the image as-is: the boot playbook, the per-instance
 * script, the user-data helper and a copy of every boot role (dependencies included). Rewritten
 * whole on every render, so a role dropped from the recipe is gone from it.
 */
async function writeBootFolder(bakery: Bakery, recipe: Recipe, bootDir: string): Promise<void> {
  await rm(bootDir, { recursive: true, force: true });
  if (!recipe.boot) return;
  await writeFileAtomic(path.join(bootDir, 'playbook.yml'), bootPlaybook(recipe), {
    createDirectory: true,
    verify: (text) => void parseYaml(text),
  });
  await writeFileAtomic(path.join(bootDir, 'bake-boot.sh'), bootScript(recipe), { mode: 0o755 });
  await writeFileAtomic(path.join(bootDir, 'user-data-vars.py'), USER_DATA_VARS_SCRIPT, { mode: 0o755 });
  for (const role of roleClosureOf(bakery.roles, recipe.boot.roles)) {
    // Role names are checked folder names (no "/" nor ".."): the copy stays inside boot/roles.
    await cp(role.dir, path.join(bootDir, 'roles', role.name), {
      recursive: true,
      filter: (source) => path.basename(source) !== '.git',
    });
  }
}

export async function renderRecipe(
  bakery: Bakery,
  recipe: Recipe,
  outDir: string,
  options: RenderOptions,
): Promise<RenderedRecipe> {
  if (!SAFE_NAME.test(recipe.name)) {
    throw new RecipeError(
      `recipe name ${JSON.stringify(recipe.name)} cannot name a folder: use letters, digits, ".", "_" and "-"`,
      recipe.locations.name ?? { file: recipe.file, line: 1, col: 1 },
    );
  }
  const dir = path.resolve(outDir, recipe.name);
  const cloudInitDir = path.join(dir, CLOUD_INIT_SUBDIR);

  const cloudInitFiles =
    recipe.cloudInit.length > 0 ? await (options.renderCloudInit ?? defaultCloudInitRenderer)(bakery, recipe) : [];
  const names = new Set<string>();
  for (const file of cloudInitFiles) {
    if (!SAFE_NAME.test(file.fileName) || names.has(file.fileName)) {
      throw new BakeError(
        `cloud-init template ${file.template} renders to an unusable or duplicate file name ${JSON.stringify(file.fileName)}`,
      );
    }
    names.add(file.fileName);
  }

  const template = renderPackerTemplate({
    bakery,
    recipe,
    shape: options.shape,
    target: options.target,
    defaults: variableDefaults(recipe, options.variables),
  });
  const rendered: RenderedRecipe = {
    recipe: recipe.name,
    dir,
    template: path.join(dir, `${recipe.name}.pkr.hcl`),
    playbook: path.join(dir, 'playbook.yml'),
    ansibleCommand: path.join(dir, 'ansible-playbook.sh'),
    verifyScript: path.join(dir, 'verify.sh'),
    captureCleanupScript: path.join(dir, CAPTURE_CLEANUP_SCRIPT_NAME),
    cloudInit: cloudInitFiles.map((file) => path.join(cloudInitDir, file.fileName)),
    manifest: path.join(dir, 'manifest.json'),
    shape: options.shape,
    sourceAmi: template.sourceAmi,
    gaps: template.gaps,
  };

  const record = path.join(cloudInitDir, WRITTEN_RECORD);
  await refuseLinks(path.resolve(outDir), [
    rendered.template,
    rendered.playbook,
    rendered.verifyScript,
    rendered.captureCleanupScript,
    rendered.ansibleCommand,
    record,
    ...rendered.cloudInit,
  ]);
  await removeStale(cloudInitDir, names);
  for (const [i, file] of cloudInitFiles.entries())
    await writeFileAtomic(rendered.cloudInit[i], file.content, { createDirectory: true });
  if (cloudInitFiles.length || existsSync(record))
    await writeFileAtomic(record, [...names].map((name) => `${name}\n`).join(''), { createDirectory: true });
  await writeBootFolder(bakery, recipe, path.join(dir, BOOT_SUBDIR));
  await writeFileAtomic(rendered.playbook, renderPlaybook(recipe, [...names]), {
    createDirectory: true,
    verify: (text) => void parseYaml(text, { logLevel: 'error' }),
  });
  await writeFileAtomic(rendered.verifyScript, renderVerifyScript(recipe.verify), {
    createDirectory: true,
    mode: 0o755,
  });
  await writeFileAtomic(rendered.captureCleanupScript, CAPTURE_CLEANUP_SCRIPT, { createDirectory: true, mode: 0o755 });
  const ansibleNames = [...ansibleSettings(bakery, recipe).map(([name]) => name), ...recipe.ansibleEnv];
  await writeFileAtomic(rendered.ansibleCommand, ansibleCommandScript(ansibleNames), {
    createDirectory: true,
    mode: 0o755,
  });
  // Written last: a template on disk means everything it points at is there.
  await writeFileAtomic(rendered.template, template.text, {
    createDirectory: true,
    verify: async (text) => void (await parseHcl(rendered.template, text)),
  });
  return rendered;
}
