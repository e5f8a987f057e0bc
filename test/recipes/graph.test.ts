import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors/index.js';
import { ancestorsOf, buildLevels, descendantsOf, graphErrors, selectRecipes } from '../../src/recipes/graph.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import type { Bakery, Recipe } from '../../src/recipes/model.js';
import { problems, tempBakery } from './temp-bakery.js';

/** A recipe as the loader would give it, FROM `parent` when set. */
function recipe(name: string, parent?: string, regions = ['us-east-1']): Recipe {
  const location = { file: `/bakery/recipes/${name}.yaml`, line: 3, col: 11 };
  return {
    name,
    description: '',
    file: location.file,
    base: parent ? { kind: 'recipe', recipe: parent } : { kind: 'ami', ami: 'ami-12345678' },
    regions,
    instanceType: 't3.small',
    sshUsername: 'admin',
    roles: [],
    cloudInit: [],
    tags: {},
    pin: [],
    ssmPins: [],
    encrypted: true,
    kmsKeyIds: {},
    imdsv2: true,
    shareWith: [],
    verify: [],
    ansibleEnv: [],
    locations: parent ? { base: { ...location, col: 1 }, 'base.recipe': location, regions: { ...location, line: 4, col: 1 } } : {},
  };
}

const names = (recipes: Recipe[]) => recipes.map((r) => r.name);
// listed children first on purpose: order in the bakery must not decide build order
const bakery = [recipe('api', 'web'), recipe('web', 'base'), recipe('worker', 'base'), recipe('base'), recipe('tools')];

describe('the recipe graph', () => {
  it('puts parents in an earlier level than their children', () => {
    expect(buildLevels(bakery).map(names)).toEqual([['base', 'tools'], ['web', 'worker'], ['api']]);
  });

  it('lists the ancestors of a recipe root first', () => {
    expect(names(ancestorsOf(bakery, 'api'))).toEqual(['base', 'web']);
    expect(ancestorsOf(bakery, 'base')).toEqual([]);
  });

  it('lists every descendant of a recipe, children before grandchildren', () => {
    expect(names(descendantsOf(bakery, 'base'))).toEqual(['web', 'worker', 'api']);
    expect(descendantsOf(bakery, 'api')).toEqual([]);
  });

  it('selects the named recipes in bakery order, or all of them when none are named', () => {
    const b = { recipes: bakery } as Bakery;
    expect(names(selectRecipes(b, ['worker', 'api']))).toEqual(['api', 'worker']);
    expect(selectRecipes(b, [])).toBe(bakery);
  });

  it('refuses an unknown recipe name and lists the known ones', () => {
    const b = { recipes: bakery } as Bakery;
    expect(() => selectRecipes(b, ['wbe'])).toThrow(UsageError);
    expect(() => selectRecipes(b, ['wbe'])).toThrow('unknown recipe wbe (this bakery has: api, web, worker, base, tools)');
  });

  it('names a cycle in the order it goes round, at the recipe: value', () => {
    const errors = graphErrors([recipe('a', 'b'), recipe('b', 'c'), recipe('c', 'a')]);
    expect(errors.map((e) => e.toLine())).toEqual([
      '/bakery/recipes/a.yaml:3:11: recipe cycle: a → b → c → a',
      '/bakery/recipes/b.yaml:3:11: recipe cycle: b → c → a → b',
      '/bakery/recipes/c.yaml:3:11: recipe cycle: c → a → b → c',
    ]);
  });

  it('does not loop forever on a cycle when building levels or walking ancestors', () => {
    const cyclic = [recipe('a', 'b'), recipe('b', 'a')];
    expect(buildLevels(cyclic).flat()).toHaveLength(2);
    expect(names(ancestorsOf(cyclic, 'a'))).toEqual(['b']);
  });

  it('wants a child’s regions to be a subset of its parent’s', () => {
    const errors = graphErrors([recipe('base', undefined, ['us-east-1']), recipe('web', 'base', ['us-east-1', 'eu-west-1'])]);
    expect(errors.map((e) => e.toLine())).toEqual(['/bakery/recipes/web.yaml:4:1: regions eu-west-1 are not built by parent recipe base']);
  });
});

describe('the recipe graph of a bakery on disk', () => {
  it('reports a cycle and an unknown parent at the line of recipe:', async () => {
    const root = await tempBakery({
      'recipes/a.yaml': 'name: a\nbase:\n  recipe: b\n',
      'recipes/b.yaml': 'name: b\nbase: { recipe: a }\n',
      'recipes/c.yaml': 'name: c\nbase:\n  recipe: ghost\n',
    });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/a.yaml:3:11: recipe cycle: a → b → a',
      'recipes/b.yaml:2:17: recipe cycle: b → a → b',
      'recipes/c.yaml:3:11: unknown parent recipe ghost (known: a, b, c)',
    ]);
  });

  it('lets a child inherit nothing but check its regions against the parent’s defaults', async () => {
    const root = await tempBakery({
      'bake.config.yaml': 'regions: [us-east-1, eu-west-1]\ninstance_type: m5.large\n',
      'recipes/base.yaml': 'name: base\nbase: { ami: ami-12345678 }\nregions: [us-east-1]\ninstance_type: t3.nano\n',
      'recipes/web.yaml': 'name: web\nbase: { recipe: base }\n',
    });
    expect(await problems(root, loadBakery)).toEqual(['recipes/web.yaml:2:17: regions eu-west-1 are not built by parent recipe base']);
  });
});
