import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RecipeErrors } from '../../src/errors/index.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { buildLevels } from '../../src/recipes/graph.js';
import { renderCloudInit } from '../../src/cloud-init/render.js';
import { recipeJsonSchema } from '../../src/recipes/schema.js';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const broken = path.join(repo, 'test/fixtures/bakeries/broken');

async function bake(...args: string[]) {
  try {
    const { stdout, stderr } = await run('node', [path.join(repo, 'bin/bake.js'), ...args], { env: { ...process.env, CI: 'true' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bake validate', () => {
  it('accepts the example bakery and loads web and worker FROM base, parents first', async () => {
    const result = await bake('validate', '--dir', repo);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ok: 3 recipes, 5 roles, 3 cloud-init templates/);
    const bakery = await loadBakery(repo);
    expect(buildLevels(bakery.recipes).map((level) => level.map((r) => r.name))).toEqual([['base'], ['web', 'worker']]);
    const web = bakery.recipes.find((r) => r.name === 'web')!;
    expect(web.regions).toEqual(['us-east-1', 'eu-west-1']);
    expect(web.tags).toEqual({ owner: 'platform', team: 'frontend' });
    expect(web.pin[0].file).toBe(path.join(repo, 'infra/web/amis.auto.tfvars'));
  });

  it('reports every problem of a broken bakery as path:line:col, exit 1, no stack trace', async () => {
    const result = await bake('validate', '--dir', broken);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^\/.+:\d+:\d+: \S/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const text = result.stderr;
    expect(text).toContain(`${broken}/recipes/app.yaml:3:11: unknown parent recipe missing-parent`);
    expect(text).toContain(`${broken}/recipes/app.yaml:7:5: unknown role nope`);
    expect(text).toContain(`${broken}/recipes/app.yaml:8:1: unknown key colour`);
    expect(text).toMatch(/loop-a\.yaml:2:\d+: recipe cycle: loop-a → loop-b → loop-a/);
    expect(text).toMatch(/syntax\.yaml:\d+:\d+: /);
  });

  it('keeps the committed JSON Schema in step with the recipe schema', async () => {
    const committed = JSON.parse(await readFile(path.join(repo, 'schema/recipe.schema.json'), 'utf8'));
    expect(committed).toEqual(recipeJsonSchema());
  });
});

describe('cloud-init rendering', () => {
  it('quotes hostile values so they cannot change the YAML structure', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bake-ci-'));
    await cp(repo, dir, { recursive: true, filter: (src) => !/node_modules|\.git$|\.bake|dist/.test(src) });
    const bakery = await loadBakery(dir);
    const web = bakery.recipes.find((r) => r.name === 'web')!;
    const hostile = 'x"\n  - path: /etc/shadow\n    content: pwned # {{oops}}: yes';
    web.cloudInit[0].vars = { service: hostile, server_name: "a: b' #c" };
    const [rendered] = await renderCloudInit(bakery, web);
    const { parse } = await import('yaml');
    const doc = parse(rendered.content) as { write_files: { path: string; content: string }[] };
    expect(doc.write_files).toHaveLength(2);
    expect(doc.write_files[0].content).toBe(hostile);
    expect(doc.write_files[1].content).toBe("a: b' #c");
  });

  it('names the recipe line when a template variable is missing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bake-ci-'));
    await cp(repo, dir, { recursive: true, filter: (src) => !/node_modules|\.git$|\.bake|dist/.test(src) });
    await writeFile(path.join(dir, 'cloud-init/worker.yaml.hbs'), '#cloud-config\nqueue: {{nothere}}\n');
    const bakery = await loadBakery(dir);
    const worker = bakery.recipes.find((r) => r.name === 'worker')!;
    await expect(renderCloudInit(bakery, worker)).rejects.toThrow(/nothere/);
    await expect(renderCloudInit(bakery, worker)).rejects.toMatchObject({ location: { file: worker.file, line: 12 } });
  });

  it('collects every problem in one RecipeErrors', async () => {
    await expect(loadBakery(broken)).rejects.toBeInstanceOf(RecipeErrors);
  });
});
