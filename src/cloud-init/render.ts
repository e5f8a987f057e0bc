import path from 'node:path';
import Handlebars from 'handlebars';
import { parse } from 'yaml';
import { RecipeError } from '../errors/index.js';
import { PYYAML_UNSAFE_ALL } from '../escape/pyyaml-unsafe.js';
import { resolveContained } from '../files/contained-path.js';
import { MAX_INPUT_BYTES, readInputFile, UnreadableInputError } from '../files/read-input-file.js';
import type { Bakery, CloudInitUse, Recipe } from '../recipes/model.js';

export interface RenderedCloudInit {
  template: string;
  fileName: string;
  content: string;
}

/**
 * Values land in YAML, so the default `{{x}}` quotes them as a YAML scalar (HTML escaping
 * would be wrong and raw insertion could change the document's structure).
 */
function yamlValue(value: unknown): string {
  // JSON is YAML's one-line flow subset: every value stays a single scalar (or flow collection)
  // wherever it is placed, which YAML's own folding double-quoted style does not guarantee.
  // cloud-init reads with PyYAML, which refuses DEL, C1 controls and U+FFFE/U+FFFF even inside
  // quotes, and treats NEL, U+2028 and U+2029 as line breaks: spell those as \u escapes.
  return JSON.stringify(value ?? null).replace(PYYAML_UNSAFE_ALL, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const engine = Handlebars.create();
engine.registerHelper('yaml', (...args: unknown[]) => {
  const options = args.pop() as { hash?: { name?: string } };
  if (args.length !== 1) throw new Error('{{yaml}} takes exactly one value');
  // strict mode does not reach helper arguments, so a missing variable is caught here
  if (args[0] === undefined) throw new Error(`"${options?.hash?.name ?? '?'}" not defined in the recipe's vars`);
  return new Handlebars.SafeString(yamlValue(args[0]));
});

type Node = { type: string; [key: string]: unknown };
/**
 * Every escaped `{{x}}` (or `{{helper x}}`) becomes `{{{yaml (…)}}}` in the parsed template,
 * so a value can only ever land as one quoted YAML scalar (or flow collection). Triple-stash
 * `{{{x}}}` stays raw on purpose: the documented way out, for trusted text.
 */
function quoteEscapedMustaches(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) return node.forEach(quoteEscapedMustaches);
  const n = node as Node;
  if (n.type === 'MustacheStatement' && n.escaped) {
    const loc = n.loc;
    const params = n.params as { original?: string }[];
    const nameHash = (name: string) => ({ type: 'Hash', pairs: [{ type: 'HashPair', key: 'name', value: { type: 'StringLiteral', value: name, original: name } }] });
    if ((n.path as { original?: string }).original === 'yaml') {
      // already quoted by the helper the author asked for: only unescape it
      if (!n.hash) n.hash = nameHash(params[0]?.original ?? '?');
      n.escaped = false;
      return;
    }
    const inner = { type: 'SubExpression', path: n.path, params: n.params, hash: n.hash, loc };
    const hasArgs = (n.params as unknown[]).length > 0 || n.hash;
    n.params = [hasArgs ? inner : n.path];
    const name = (n.path as { original?: string }).original ?? '?';
    n.hash = nameHash(name);
    n.path = { type: 'PathExpression', data: false, depth: 0, parts: ['yaml'], original: 'yaml', loc };
    n.escaped = false;
    return;
  }
  for (const key of ['body', 'program', 'inverse']) quoteEscapedMustaches(n[key]);
}

function compileCloudInit(source: string) {
  const ast = engine.parse(source);
  quoteEscapedMustaches(ast);
  return engine.compile(ast, { strict: true });
}

/** Every cloud-init entry of the recipe, rendered and checked; throws at the first bad one. */
export async function renderCloudInit(bakery: Bakery, recipe: Recipe): Promise<RenderedCloudInit[]> {
  const out: RenderedCloudInit[] = [];
  for (const index of recipe.cloudInit.keys()) out.push(await renderCloudInitEntry(bakery, recipe, index));
  return out;
}

/** A template of cloud-init/ rendered with its vars: the handlebars rendering every cloud-init text goes through. */
export async function renderCloudInitTemplate(bakery: Bakery, recipe: Recipe, use: CloudInitUse): Promise<string> {
  const folder = path.join(bakery.root, 'cloud-init');
  const file = path.resolve(folder, use.template);
  if (!file.startsWith(folder + path.sep)) throw new RecipeError(`cloud-init template ${use.template} must be a path inside cloud-init/`, use.location);
  const where = await resolveContained(file, [bakery.root]);
  if (!where.inside) throw new RecipeError(`cloud-init template ${use.template} ${where.reason}; templates are read only from inside the bakery`, use.location);
  let source: string;
  try {
    source = (await readInputFile(where.real, MAX_INPUT_BYTES)).toString('utf8');
  } catch (error) {
    if (error instanceof UnreadableInputError) throw new RecipeError(`cloud-init template ${use.template} ${error.reason}`, use.location);
    throw new RecipeError(`cloud-init template ${use.template} not found under cloud-init/`, use.location);
  }
  try {
    const template = compileCloudInit(source);
    return template({ recipe: { name: recipe.name, description: recipe.description }, ...use.vars });
  } catch (error) {
    throw new RecipeError(`cloud-init template ${use.template}: ${(error as Error).message.split('\n')[0]}`, use.location);
  }
}

/** A rendered `#cloud-config` must be YAML that cloud-init (PyYAML, YAML 1.1) reads. */
export function checkCloudConfigYaml(content: string, use: CloudInitUse): void {
  try {
    parse(content, { version: '1.1' });
  } catch (error) {
    throw new RecipeError(`cloud-init template ${use.template} renders invalid YAML: ${(error as Error).message.split('\n')[0]}`, use.location);
  }
}

/** One entry of the recipe's `cloud_init` (validate renders them one by one to report each problem). */
export async function renderCloudInitEntry(bakery: Bakery, recipe: Recipe, index: number): Promise<RenderedCloudInit> {
  const use = recipe.cloudInit[index];
  const content = await renderCloudInitTemplate(bakery, recipe, use);
  // The file lands in /etc/cloud/cloud.cfg.d, which cloud-init merges as YAML configuration: a
  // MIME document there would break every boot's configuration instead of running its parts.
  if (/^Content-Type: multipart\//i.test(content)) {
    throw new RecipeError(
      `cloud-init template ${use.template} renders MIME multipart, which is user-data: an image holds #cloud-config in /etc/cloud/cloud.cfg.d only (give multipart user-data at launch)`,
      use.location,
    );
  }
  if (!content.startsWith('#cloud-config'))
    throw new RecipeError(`cloud-init template ${use.template} must render to a document starting with #cloud-config`, use.location);
  checkCloudConfigYaml(content, use);
  const base = path.basename(use.template).replace(/\.hbs$/, '').replace(/\.(ya?ml|cfg)$/, '');
  return { template: use.template, fileName: `90-bake-${recipe.name}-${index + 1}-${base}.cfg`, content };
}
