/**
 * The files `bake init` writes: everything under the package's templates/init/, at the same
 * path in the new bakery. A file named `X.init.hbs` is rendered to `X` by handlebars, with the
 * values it needs only through helpers that quote by construction (`yaml` → a double-quoted YAML
 * scalar, `hcl` → an HCL string literal); every other file is copied byte for byte (the cloud-init
 * templates and roles hold handlebars and Jinja of their own, for bake and Ansible to fill later).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { hclString } from '../escape/hcl-string.js';
import { yamlString } from '../escape/yaml-string.js';
import { packageFile } from '../release/installed-package.js';

/** What the rendered files say about this bakery. */
export interface ScaffoldValues {
  /** The bakery's name (bake:bakery), already checked against BAKERY_NAME. */
  bakery: string;
  /** The recipe schema for the editor line, relative to recipes/. */
  recipeSchema: string;
}

export interface ScaffoldFile {
  /** Path in the bakery, `/`-separated. */
  path: string;
  text: string;
}

const RENDERED = '.init.hbs';
/** npm leaves `.gitignore` files out of packages: the template is shipped without its dot. */
const DOTFILES: Record<string, string> = { gitignore: '.gitignore' };

const engine = Handlebars.create();
engine.registerHelper('yaml', (value: unknown) => {
  if (typeof value !== 'string') throw new Error(`the yaml helper takes a string, got ${JSON.stringify(value)}`);
  return yamlString(value);
});
engine.registerHelper('hcl', (value: unknown) => {
  if (typeof value !== 'string') throw new Error(`the hcl helper takes a string, got ${JSON.stringify(value)}`);
  return hclString(value);
});

export function scaffoldRoot(): string {
  return packageFile('templates', 'init');
}

/**
 * The stages of bake's own Jenkinsfile (shipped in the package), calling the bake installed in
 * the bakery instead of the repository's bin/: one pipeline for both, never two copies to keep
 * in step. Only bake's own text goes in; the bakery's name is not part of the pipeline.
 */
export function bakeryPipeline(jenkinsfile = readFileSync(packageFile('Jenkinsfile'), 'utf8')): string {
  const start = jenkinsfile.search(/^pipeline \{$/m);
  if (start < 0) throw new Error("bake's Jenkinsfile has no `pipeline {` line");
  return jenkinsfile.slice(start).replaceAll('./bin/bake.js', 'npx --no-install bake');
}

/** Every file of the scaffold, rendered, in path order. */
export function scaffoldFiles(values: ScaffoldValues, root = scaffoldRoot()): ScaffoldFile[] {
  const view = { bakery: values.bakery, schema: values.recipeSchema, pipeline: bakeryPipeline() };
  return templatesUnder(root)
    .map((relative) => {
      const source = readFileSync(path.join(root, relative), 'utf8');
      const rendered = relative.endsWith(RENDERED);
      const target = rendered ? relative.slice(0, -RENDERED.length) : relative;
      const text = rendered ? engine.compile(source, { strict: true, noEscape: true })(view) : source;
      const dir = path.posix.dirname(target);
      const base = DOTFILES[path.posix.basename(target)] ?? path.posix.basename(target);
      return { path: dir === '.' ? base : `${dir}/${base}`, text };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function templatesUnder(root: string, prefix = ''): string[] {
  return readdirSync(path.join(root, prefix), { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return templatesUnder(root, relative);
    return entry.isFile() ? [relative] : [];
  });
}
