/**
 * `architectures:` (issue 28): one recipe file, one image per architecture, each with its own
 * instance type, base and pins; recipes that name none load exactly as before.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { selectRecipes } from '../../src/recipes/graph.js';
import { fingerprintOf, recipeInputs } from '../../src/fingerprint/fingerprint.js';
import type { Bakery, Recipe } from '../../src/recipes/model.js';
import { UsageError } from '../../src/errors/index.js';
import { minimalRole, problems, tempBakery } from './temp-bakery.js';

const PARENT = 'name: base\nbase:\n  filter: { name: "debian-12-*", owners: [amazon] }\narchitectures: [x86_64, arm64]\nroles: [common]\n';

const WEB = [
  'name: web',
  'base: { recipe: base }',
  'architectures: [x86_64, arm64]',
  'instance_types: { x86_64: t3.small, arm64: t4g.small }',
  'roles: [common]',
  'pin:',
  '  - file: ../infra/amis.auto.tfvars',
  '    variable: web_ami',
  '    arch_variables: { arm64: web_ami_arm64 }',
  '  - ssm: /images/web/ami',
  '    arch_ssm: { arm64: /images/web/arm64/ami }',
  '',
].join('\n');

const byName = (bakery: Bakery, name: string): Recipe => bakery.recipes.find((r) => r.name === name)!;
const fingerprint = (bakery: Bakery, recipe: Recipe) =>
  fingerprintOf(recipeInputs(recipe, { bakery, ids: new Map(), baseAmi: 'ami-0123456789abcdef0', generator: 'g' })).value;

describe('a recipe that builds x86_64 and arm64', () => {
  it('loads as one recipe per architecture, each with its type, base and pins', async () => {
    const root = await tempBakery({ ...minimalRole, 'recipes/base.yaml': PARENT, 'recipes/web.yaml': WEB });
    const bakery = await loadBakery(root);
    expect(bakery.recipes.map((r) => [r.name, r.recipeName, r.architecture, r.instanceType])).toEqual([
      ['base', 'base', 'x86_64', 't3.small'],
      ['base.arm64', 'base', 'arm64', 't4g.small'],
      ['web', 'web', 'x86_64', 't3.small'],
      ['web.arm64', 'web', 'arm64', 't4g.small'],
    ]);
    // A filter is narrowed to the architecture; a parent resolves to its image of the same one.
    expect(byName(bakery, 'base.arm64').base).toEqual({ kind: 'filter', name: 'debian-12-*', owners: ['amazon'], architecture: 'arm64' });
    expect(byName(bakery, 'web.arm64').base).toEqual({ kind: 'recipe', recipe: 'base.arm64' });
    expect(byName(bakery, 'web').base).toEqual({ kind: 'recipe', recipe: 'base' });
    // The plain keys are x86_64's, the arch_ maps arm64's.
    expect(byName(bakery, 'web').pin.map((t) => t.variable)).toEqual(['web_ami']);
    expect(byName(bakery, 'web.arm64').pin.map((t) => t.variable)).toEqual(['web_ami_arm64']);
    expect(byName(bakery, 'web').ssmPins.map((t) => t.parameter)).toEqual(['/images/web/ami']);
    expect(byName(bakery, 'web.arm64').ssmPins.map((t) => t.parameter)).toEqual(['/images/web/arm64/ami']);
    // Two images, two fingerprints.
    expect(fingerprint(bakery, byName(bakery, 'web'))).not.toBe(fingerprint(bakery, byName(bakery, 'web.arm64')));
  });

  it('takes the AMI or SSM parameter named for each architecture', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'recipes/a.yaml': 'name: a\nbase: { ami: ami-0123456789abcdef0, arch_amis: { arm64: ami-0fedcba9876543210 } }\narchitectures: [x86_64, arm64]\n',
      'recipes/s.yaml':
        'name: s\nbase: { ssm: /aws/service/debian/release/12/latest/amd64, arch_ssm: { arm64: /aws/service/debian/release/12/latest/arm64 } }\narchitectures: [arm64, x86_64]\n',
    });
    const bakery = await loadBakery(root);
    expect(byName(bakery, 'a.arm64').base).toEqual({ kind: 'ami', ami: 'ami-0fedcba9876543210', architecture: 'arm64' });
    expect(byName(bakery, 'a').base).toEqual({ kind: 'ami', ami: 'ami-0123456789abcdef0', architecture: 'x86_64' });
    expect(byName(bakery, 's.arm64').base).toEqual({ kind: 'ssm', parameter: '/aws/service/debian/release/12/latest/arm64' });
    expect(byName(bakery, 's').base).toEqual({ kind: 'ssm', parameter: '/aws/service/debian/release/12/latest/amd64' });
  });

  it('builds arm64 alone with the plain keys when arm64 is the only architecture, from bake.config.yaml too', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'bake.config.yaml': 'architectures: [arm64]\ninstance_types: { arm64: c7g.large }\n',
      'recipes/a.yaml': 'name: a\nbase: { ami: ami-0123456789abcdef0 }\npin:\n  - file: amis.tfvars\n    variable: a_ami\n',
    });
    const [recipe] = (await loadBakery(root)).recipes;
    expect([recipe.name, recipe.architecture, recipe.instanceType, recipe.pin[0].variable]).toEqual(['a.arm64', 'arm64', 'c7g.large', 'a_ami']);
  });

  it('selects a recipe by its name (every architecture), by its key, or by --arch', async () => {
    const root = await tempBakery({ ...minimalRole, 'recipes/base.yaml': PARENT, 'recipes/web.yaml': WEB });
    const bakery = await loadBakery(root);
    const names = (recipes: Recipe[]) => recipes.map((r) => r.name);
    expect(names(selectRecipes(bakery, ['web']))).toEqual(['web', 'web.arm64']);
    expect(names(selectRecipes(bakery, ['web.arm64']))).toEqual(['web.arm64']);
    expect(names(selectRecipes(bakery, [], 'arm64'))).toEqual(['base.arm64', 'web.arm64']);
    expect(names(selectRecipes(bakery, ['web'], 'x86_64'))).toEqual(['web']);
  });

  it('refuses --arch for a recipe that does not build it, in one line', async () => {
    const root = await tempBakery({ ...minimalRole, 'recipes/one.yaml': 'name: one\nbase: { ami: ami-0123456789abcdef0 }\n' });
    const bakery = await loadBakery(root);
    expect(() => selectRecipes(bakery, ['one'], 'arm64')).toThrow(new UsageError('one builds no arm64 image (--arch arm64)'));
    expect(() => selectRecipes(bakery, [], 'arm64')).toThrow(new UsageError('no recipe builds arm64 (--arch arm64)'));
  });
});

describe('a bakery that names no architectures', () => {
  it('loads each recipe once, as before: same name, no architecture, same fingerprint as an x86_64 recipe always had', async () => {
    const files = { ...minimalRole, 'recipes/web.yaml': 'name: web\nbase: { ami: ami-0123456789abcdef0 }\ninstance_type: t3.small\nroles: [common]\n' };
    const root = await tempBakery(files);
    const bakery = await loadBakery(root);
    expect(bakery.recipes).toHaveLength(1);
    const [web] = bakery.recipes;
    expect(web.name).toBe('web');
    expect(web).not.toHaveProperty('architecture');
    expect(web).not.toHaveProperty('recipeName');
    expect(web.base).toEqual({ kind: 'ami', ami: 'ami-0123456789abcdef0' });
    // `architectures: [x86_64]` said out loud is the default: the same recipe, the same fingerprint.
    await writeFile(path.join(root, 'bake.config.yaml'), 'architectures: [x86_64]\n');
    const said = await loadBakery(root);
    expect(said.recipes).toEqual([web]);
    expect(fingerprint(said, said.recipes[0])).toBe(fingerprint(bakery, web));
  });
});

describe('the example bakery, which names no architectures', () => {
  it('keeps the fingerprints bake gave its recipes before it knew architectures', async () => {
    const repo = new URL('../..', import.meta.url).pathname;
    const bakery = await loadBakery(repo);
    const fingerprints = Object.fromEntries(
      bakery.recipes.map((recipe) => [
        recipe.name,
        fingerprintOf(
          recipeInputs(recipe, {
            bakery,
            ids: new Map([['roles/common/tasks/main.yml', 'x']]),
            baseAmi: 'ami-0123456789abcdef0',
            parentFingerprint: recipe.base.kind === 'recipe' ? '0011223344556677' : undefined,
            generator: '7',
          }),
        ).value,
      ]),
    );
    // Computed with the same inputs by bake's main branch before `architectures:` existed.
    expect(fingerprints).toEqual({ base: '2ced127199c03958', web: 'd5b8e4a064afda92', worker: 'eb57a2b65a16e22c' });
  });
});

describe('refusing what cannot be built', () => {
  it('refuses an instance type of the wrong architecture, at its line', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'recipes/a.yaml': 'name: a\nbase: { ami: ami-0123456789abcdef0 }\narchitectures: [x86_64, arm64]\ninstance_types: { x86_64: m7g.large, arm64: t3.small }\n',
      'recipes/b.yaml': 'name: b\nbase: { ami: ami-0123456789abcdef0 }\ninstance_type: a1.medium\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/a.yaml:2:1: base has no arm64 image: add arch_amis: {arm64: …} beside ami',
      'recipes/a.yaml:4:27: instance type m7g.large is arm64, not x86_64',
      'recipes/a.yaml:4:45: instance type t3.small is x86_64, not arm64',
      'recipes/b.yaml:3:16: instance type a1.medium is arm64, not x86_64',
    ]);
  });

  it('refuses a parent without the architecture, a pin without its variable, a key for an architecture not built', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'recipes/base.yaml': 'name: base\nbase: { ami: ami-0123456789abcdef0 }\n',
      'recipes/web.yaml': [
        'name: web',
        'base:',
        '  recipe: base',
        'architectures: [x86_64, arm64]',
        'pin:',
        '  - file: amis.tfvars',
        '    variable: web_ami',
        '  - ssm: /images/web',
        'instance_types: { x86_64: t3.small }',
        '',
      ].join('\n'),
      'recipes/one.yaml': 'name: one\nbase: { ami: ami-0123456789abcdef0 }\ninstance_types: { arm64: t4g.small }\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/one.yaml:3:19: instance_types.arm64: the recipe does not build arm64 (architectures: x86_64)',
      'recipes/web.yaml:3:11: parent recipe base builds no arm64 image (its architectures: x86_64)',
      'recipes/web.yaml:6:5: pin amis.tfvars: no arm64 variable: add arch_variables: {arm64: …} (the recipe builds arm64; variable web_ami holds the x86_64 image)',
      'recipes/web.yaml:8:5: pin /images/web: no arm64 parameter: add arch_ssm: {arm64: /…} (the recipe builds arm64)',
    ]);
  });

  it('refuses hostile architecture names and keys in one line each, and nothing of them reaches a name', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'recipes/a.yaml': 'name: a\nbase: { ami: ami-0123456789abcdef0 }\narchitectures: ["arm64\\"; rm -rf /", "x86_64\\n"]\n',
      'recipes/b.yaml': 'name: b\nbase: { ami: ami-0123456789abcdef0 }\ninstance_types: { "arm64}{{ evil }}": t4g.small }\n',
      'recipes/c.yaml': 'name: c\nbase: { ami: ami-0123456789abcdef0 }\narchitectures: [arm64]\ninstance_types: { arm64: "t4g.small\\"\\n  evil = true" }\n',
      'bake.config.yaml': 'architectures: [x86_64, x86_64]\n',
    });
    const lines = await problems(root, loadBakery);
    expect(lines).toEqual([
      'bake.config.yaml:1:16: architectures lists x86_64 more than once',
      'recipes/a.yaml:3:17: architectures.0: an architecture is x86_64 or arm64',
      'recipes/a.yaml:3:38: architectures.1: an architecture is x86_64 or arm64',
      'recipes/b.yaml:3:19: unknown key arm64}{{ evil }}',
      'recipes/c.yaml:4:26: instance_types.arm64: not an EC2 instance type (family.size, e.g. t3.small)',
    ]);
    for (const line of lines) expect(line).not.toContain('\n');
  });
});
