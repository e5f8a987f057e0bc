/**
 * The handlebars instance for Packer templates. HTML escaping is off (it would corrupt HCL)
 * and strict mode is on (a misspelt field is an error, not an empty string); values reach the
 * text only through the HCL helpers, which escape by construction.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { hclString } from '../escape/hcl-string.js';
import { hclList, hclMap, packerString } from './hcl.js';
import { packageFile } from '../release/installed-package.js';

const engine = Handlebars.create();

function indentOf(options: Handlebars.HelperOptions | undefined): number {
  const indent = options?.hash?.indent;
  return typeof indent === 'number' ? indent : 0;
}

// Every value through these helpers is HCL-escaped and free of Go template openers (see
// packerString); `hclPackerTemplate` is for bake's own Go template text only.
engine.registerHelper('hclPackerTemplate', (value: unknown) => {
  if (typeof value !== 'string')
    throw new Error(`the hclPackerTemplate helper takes a string, got ${JSON.stringify(value)}`);
  return hclString(value);
});
engine.registerHelper('hcl', (value: unknown) => {
  if (typeof value === 'string') return packerString(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  throw new Error(`the hcl helper takes a string, number or boolean, got ${JSON.stringify(value)}`);
});
engine.registerHelper('hclList', (values: unknown) => {
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
    throw new Error(`the hclList helper takes a list of strings, got ${JSON.stringify(values)}`);
  }
  return hclList(values);
});
engine.registerHelper('hclMap', (map: unknown, options: Handlebars.HelperOptions) => {
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new Error(`the hclMap helper takes an object, got ${JSON.stringify(map)}`);
  }
  return hclMap(map as Record<string, string>, indentOf(options));
});

/** Templates ship in the package: resolved from this module, never from the working directory. */
export function templatePath(name: string): string {
  return packageFile('templates', `packer/${name}`);
}

const compiled = new Map<string, Handlebars.TemplateDelegate>();

export function renderTemplateFile(name: string, view: object): string {
  let template = compiled.get(name);
  if (!template) {
    template = engine.compile(readFileSync(templatePath(name), 'utf8'), { strict: true, noEscape: true });
    compiled.set(name, template);
  }
  return template(view);
}
