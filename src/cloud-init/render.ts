import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { parse, stringify } from 'yaml';
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
  return stringify(value ?? null, { lineWidth: 0, defaultStringType: 'QUOTE_DOUBLE', collectionStyle: 'flow' }).trimEnd();
}

const engine = Handlebars.create();
engine.registerHelper('yaml', (value: unknown) => new Handlebars.SafeString(yamlValue(value)));
engine.registerHelper('raw', (value: unknown) => new Handlebars.SafeString(String(value ?? '')));
// Handlebars escapes `{{x}}` through Utils.escapeExpression; cloud-init wants YAML quoting there.
// (Packer templates use their own instance with noEscape, so this does not reach them.)
(engine.Utils as unknown as { escapeExpression: (v: unknown) => string }).escapeExpression = yamlValue;

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
      const template = engine.compile(source, { strict: true, noEscape: false });
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
