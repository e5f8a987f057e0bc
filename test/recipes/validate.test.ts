import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecipeGraph } from '../../src/recipes/graph.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { validateBakery } from '../../src/pipeline/validate.js';
import { problems, tempBakery } from './temp-bakery.js';

const repo = path.resolve(__dirname, '../..');

describe('the example bakery', () => {
  it('validates: three recipes, five roles, four cloud-init templates (one is web’s launch-test user-data)', async () => {
    const { bakery, cloudInitCount } = await validateBakery(repo);
    expect(bakery.recipes.map((r) => r.name)).toEqual(['base', 'web', 'worker']);
    expect([...bakery.roles.keys()].sort()).toEqual(['common', 'hardening', 'nginx', 'node_exporter', 'worker']);
    expect(cloudInitCount).toBe(4);
  });

  it('builds web and worker FROM a hardened Debian 12 base', async () => {
    const bakery = await loadBakery(repo);
    expect(RecipeGraph.of(bakery.recipes).levels().map((level) => level.map((r) => r.name))).toEqual([['base'], ['web', 'worker']]);
    const base = bakery.recipes.find((r) => r.name === 'base')!;
    expect(base.base).toEqual({ kind: 'filter', name: 'debian-12-amd64-*', owners: ['136693071363'] });
    expect(base.sshUsername).toBe('admin');
  });

  it('takes regions, instance type and the owner tag from bake.config.yaml', async () => {
    const web = (await loadBakery(repo)).recipes.find((r) => r.name === 'web')!;
    expect(web.regions).toEqual(['us-east-1', 'eu-west-1']);
    expect(web.instanceType).toBe('t3.small');
    expect(web.tags).toEqual({ owner: 'platform', team: 'frontend' });
  });

  it('pins into tfvars files that exist beside it', async () => {
    const bakery = await loadBakery(repo);
    const web = bakery.recipes.find((r) => r.name === 'web')!;
    expect(web.pin[0]).toMatchObject({ file: path.join(repo, 'infra/web/amis.auto.tfvars'), variable: 'web_ami', format: 'map' });
    for (const target of bakery.recipes.flatMap((r) => r.pin)) {
      expect(await readFile(target.file, 'utf8')).toContain(target.variable);
    }
  });

  it('verifies nginx in the web image', async () => {
    const web = (await loadBakery(repo)).recipes.find((r) => r.name === 'web')!;
    expect(web.verify.map((c) => c.kind)).toEqual(['package', 'file', 'command', 'service', 'port', 'port']);
  });

  it('points every example recipe at the JSON Schema for editors', async () => {
    for (const name of ['base', 'web', 'worker']) {
      const text = await readFile(path.join(repo, 'recipes', `${name}.yaml`), 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/recipe.schema.json');
    }
  });
});

describe('validating a bakery', () => {
  it('reports cloud-init problems together with every other problem', async () => {
    const root = await tempBakery({
      'recipes/a.yaml': 'name: a\nbase: { ami: ami-12345678 }\ncloud_init:\n  - template: a.yaml.hbs\n  - template: a.yaml.hbs\n    vars: { host: x }\n',
      'recipes/b.yaml': 'name: b\nbase: { ami: nope }\n',
      'cloud-init/a.yaml.hbs': '#cloud-config\nhostname: {{host}}\n',
    });
    expect(await problems(root, validateBakery)).toEqual([
      `recipes/a.yaml:4:5: cloud-init template a.yaml.hbs: "host" not defined in the recipe's vars`,
      'recipes/b.yaml:2:14: base.ami: not an AMI id',
    ]);
  });

  it('refuses a cloud-init template outside cloud-init/', async () => {
    const root = await tempBakery({ 'recipes/a.yaml': 'name: a\nbase: { ami: ami-12345678 }\ncloud_init:\n  - template: ../recipes/a.yaml\n' });
    expect(await problems(root, validateBakery)).toEqual(['recipes/a.yaml:4:5: cloud-init template ../recipes/a.yaml must be a path inside cloud-init/']);
  });
});
