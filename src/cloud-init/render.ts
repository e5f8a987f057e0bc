import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { parse } from 'yaml';
import { RecipeError } from '../errors/index.js';
import type { Bakery, Recipe } from '../recipes/model.js';

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
  return JSON.stringify(value ?? null);
}

const engine = Handlebars.create();
engine.registerHelper('yaml', (value: unknown, options: { hash?: { name?: string } }) => {
  // strict mode does not reach helper arguments, so a missing variable is caught here
  if (value === undefined) throw new Error(`"${options?.hash?.name ?? '?'}" not defined in the recipe's vars`);
  return new Handlebars.SafeString(yamlValue(value));
});
engine.registerHelper('raw', (value: unknown) => new Handlebars.SafeString(String(value ?? '')));

type Node = { type: string; [key: string]: unknown };
/**
 * Every escaped `{{x}}` (or `{{helper x}}`) becomes `{{{yaml (…)}}}` in the parsed template,
 * so a value can only ever land as one quoted YAML scalar. `{{{raw}}}` stays raw on purpose.
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

export async function renderCloudInit(bakery: Bakery, recipe: Recipe): Promise<RenderedCloudInit[]> {
  const out: RenderedCloudInit[] = [];
  for (const [index, use] of recipe.cloudInit.entries()) {
    const file = path.join(bakery.root, 'cloud-init', use.template);
    let source: string;
    try {
      source = await readFile(file, 'utf8');
    } catch {
      throw new RecipeError(`cloud-init template ${use.template} not found under cloud-init/`, use.location);
    }
    let content: string;
    try {
      const template = compileCloudInit(source);
      content = template({ recipe: { name: recipe.name, description: recipe.description }, ...use.vars });
    } catch (error) {
      throw new RecipeError(`cloud-init template ${use.template}: ${(error as Error).message.split('\n')[0]}`, use.location);
    }
    const isMultipart = /^Content-Type: multipart\//i.test(content);
    if (!isMultipart) {
      if (!content.startsWith('#cloud-config'))
        throw new RecipeError(`cloud-init template ${use.template} must render to a document starting with #cloud-config (or MIME multipart)`, use.location);
      try {
        parse(content);
      } catch (error) {
        throw new RecipeError(`cloud-init template ${use.template} renders invalid YAML: ${(error as Error).message.split('\n')[0]}`, use.location);
      }
    }
    const base = path.basename(use.template).replace(/\.hbs$/, '').replace(/\.(ya?ml|cfg)$/, '');
    out.push({ template: use.template, fileName: `90-bake-${recipe.name}-${index + 1}-${base}.cfg`, content });
  }
  return out;
}
