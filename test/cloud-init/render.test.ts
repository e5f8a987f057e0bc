import { execFile } from 'node:child_process';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RecipeError } from '../../src/errors/index.js';
import { renderCloudInit } from '../../src/cloud-init/render.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import type { Bakery, Recipe } from '../../src/recipes/model.js';

const fixture = path.resolve(__dirname, '../fixtures/cloud-init/bakery');

/** The fixture bakery in a temp dir (so a test may add templates) and its `app` recipe. */
async function appRecipe(): Promise<{ bakery: Bakery; app: Recipe }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bake-cloud-init-'));
  await cp(fixture, root, { recursive: true });
  const bakery = await loadBakery(root);
  return { bakery, app: bakery.recipes[0] };
}

/** Parses documents with PyYAML, the parser cloud-init itself uses. */
async function parseWithPyYaml(documents: string[]): Promise<unknown[]> {
  const script = 'import json, sys, yaml\nprint(json.dumps([yaml.safe_load(d) for d in json.load(sys.stdin)]))';
  const child = execFile('python3', ['-c', script]);
  const output = new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
  });
  child.stdin!.end(JSON.stringify(documents));
  return JSON.parse(await output) as unknown[];
}

const HOSTILE = [
  'x"\n  - path: /etc/shadow\n    content: pwned',
  "it's: a map now",
  'value # not a comment',
  '{{ not.a.template }}',
  '- item',
  '*alias &anchor !!python/object:os.system',
  '| block\n  scalar',
  '@`%',
  'tab\there, back\\slash, bell\u0007, del\u007f, nel\u0085, ls\u2028',
  '',
  'yes',
  '0644',
];

describe('rendering cloud-init templates', () => {
  it('renders every entry of a recipe with its own vars, named for recipe, position and template', async () => {
    const { bakery, app } = await appRecipe();
    const rendered = await renderCloudInit(bakery, app);
    expect(rendered.map((r) => [r.template, r.fileName])).toEqual([
      ['app.yaml.hbs', '90-bake-app-1-app.cfg'],
      ['parts/hostname.yaml.hbs', '90-bake-app-2-hostname.cfg'],
    ]);
    expect(parse(rendered[0].content)).toEqual({
      write_files: [
        { path: '/etc/app/name', content: 'app' },
        { path: '/etc/app/settings.json', content: { port: 8080, debug: false } },
      ],
      runcmd: ['echo one', 'echo two'],
      bootcmd: ['echo boot'],
    });
    expect(parse(rendered[1].content)).toEqual({ hostname: 'app-1' });
  });

  it.each(HOSTILE.map((v) => [JSON.stringify(v), v]))('keeps the YAML structure whatever a value holds: %s', async (_label, hostile) => {
    const { bakery, app } = await appRecipe();
    app.cloudInit[0].vars = { name: hostile, config_path: hostile, settings: { [hostile]: [hostile] }, commands: [hostile, hostile], first_boot: hostile };
    const [rendered] = await renderCloudInit(bakery, app);
    const expected = {
      write_files: [
        { path: '/etc/app/name', content: hostile },
        { path: hostile, content: { [hostile]: [hostile] } },
      ],
      runcmd: [hostile, hostile],
      bootcmd: [hostile],
    };
    expect(parse(rendered.content)).toEqual(expected);
    expect(await parseWithPyYaml([rendered.content])).toEqual([expected]);
  });

  it('quotes values by default instead of HTML-escaping them', async () => {
    const { bakery, app } = await appRecipe();
    app.cloudInit[0].vars.name = '<b>&"\'</b>';
    const [rendered] = await renderCloudInit(bakery, app);
    expect(rendered.content).toContain('content: "<b>&\\"\'</b>"');
  });

  it('names the template and the recipe line when a variable is missing', async () => {
    const { bakery, app } = await appRecipe();
    delete app.cloudInit[0].vars.config_path;
    const error = await renderCloudInit(bakery, app).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecipeError);
    expect((error as RecipeError).toLine()).toBe(`${app.file}:5:5: cloud-init template app.yaml.hbs: "config_path" not defined in the recipe's vars`);
  });

  it('catches a missing variable given to the yaml helper too', async () => {
    const { bakery, app } = await appRecipe();
    delete app.cloudInit[0].vars.settings;
    await expect(renderCloudInit(bakery, app)).rejects.toThrow(/"settings" not defined/);
  });

  it('refuses a template that does not render to #cloud-config', async () => {
    const { bakery, app } = await appRecipe();
    app.cloudInit = [{ template: 'no-header.yaml.hbs', vars: { host: 'a' }, location: app.cloudInit[0].location }];
    await expect(renderCloudInit(bakery, app)).rejects.toThrow('cloud-init template no-header.yaml.hbs must render to a document starting with #cloud-config');
  });

  it('refuses MIME multipart, which cloud-init reads as user-data only, never from the image', async () => {
    const { bakery, app } = await appRecipe();
    app.cloudInit = [{ template: 'multipart.hbs', vars: { host: 'a' }, location: app.cloudInit[0].location }];
    const error = await renderCloudInit(bakery, app).catch((e: unknown) => e);
    expect((error as RecipeError).toLine()).toBe(
      `${app.file}:5:5: cloud-init template multipart.hbs renders MIME multipart, which is user-data: an image holds #cloud-config in /etc/cloud/cloud.cfg.d only (give multipart user-data at launch)`,
    );
  });

  it('refuses a template whose rendering is not YAML', async () => {
    const { bakery, app } = await appRecipe();
    app.cloudInit = [{ template: 'bad-yaml.yaml.hbs', vars: { host: 'a' }, location: app.cloudInit[0].location }];
    await expect(renderCloudInit(bakery, app)).rejects.toThrow(/^cloud-init template bad-yaml\.yaml\.hbs renders invalid YAML: /);
  });

  it('refuses a template with a handlebars syntax error, on one line', async () => {
    const { bakery, app } = await appRecipe();
    app.cloudInit = [{ template: 'bad-syntax.yaml.hbs', vars: { host: 'a' }, location: app.cloudInit[0].location }];
    const error = (await renderCloudInit(bakery, app).catch((e: unknown) => e)) as RecipeError;
    expect(error).toBeInstanceOf(RecipeError);
    expect(error.toLine()).toMatch(/^\S+:5:5: cloud-init template bad-syntax\.yaml\.hbs: .*\S$/);
    expect(error.toLine()).not.toContain('\n');
  });

  it('refuses a template that is not there', async () => {
    const { bakery, app } = await appRecipe();
    app.cloudInit[0].template = 'gone.yaml.hbs';
    await expect(renderCloudInit(bakery, app)).rejects.toThrow('cloud-init template gone.yaml.hbs not found under cloud-init/');
  });

  it('leaves triple-stash {{{x}}} raw, as the one explicit way out of quoting', async () => {
    const { bakery, app } = await appRecipe();
    await writeFile(path.join(bakery.root, 'cloud-init/raw.yaml.hbs'), '#cloud-config\nhostname: app-{{{host}}}\n');
    app.cloudInit = [{ template: 'raw.yaml.hbs', vars: { host: '7' }, location: app.cloudInit[0].location }];
    const [rendered] = await renderCloudInit(bakery, app);
    expect(rendered.content).toBe('#cloud-config\nhostname: app-7\n');
  });
});
