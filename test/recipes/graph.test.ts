import { describe, expect, it } from 'vitest';
import { RecipeError, UsageError } from '../../src/errors/index.js';
import { RecipeGraph, selectRecipes } from '../../src/recipes/graph.js';
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

const names = (recipes: Array<{ name: string }>) => recipes.map((r) => r.name);
// listed children first on purpose: order in the bakery must not decide build order
const bakery = [recipe('api', 'web'), recipe('web', 'base'), recipe('worker', 'base'), recipe('base'), recipe('tools')];

const graph = RecipeGraph.of(bakery);
const errors = (recipes: Recipe[]) => RecipeGraph.of(recipes).errors().map((e) => e.toLine());

describe('the recipe graph', () => {
  it('puts parents in an earlier level than their children', () => {
    expect(graph.levels().map(names)).toEqual([['base', 'tools'], ['web', 'worker'], ['api']]);
    expect(names(graph.inBuildOrder())).toEqual(['base', 'tools', 'web', 'worker', 'api']);
    expect(['base', 'web', 'api', 'tools'].map((name) => graph.depthOf(name))).toEqual([0, 1, 2, 0]);
  });

  it('knows each recipe’s parent and children, and only parents of this bakery', () => {
    expect(graph.parentOf('api')?.name).toBe('web');
    expect(graph.parentOf('base')).toBeUndefined();
    expect(names(graph.childrenOf('base'))).toEqual(['web', 'worker']);
    expect(RecipeGraph.of([recipe('web', 'elsewhere')]).parentOf('web')).toBeUndefined();
  });

  it('lists the ancestors of a recipe root first, and finds the root of its chain', () => {
    expect(names(graph.ancestorsOf('api'))).toEqual(['base', 'web']);
    expect(graph.ancestorsOf('base')).toEqual([]);
    expect(graph.rootOf('api')?.name).toBe('base');
    expect(graph.rootOf('tools')?.name).toBe('tools');
  });

  it('lists every descendant of a recipe, children before grandchildren', () => {
    expect(names(graph.descendantsOf('base'))).toEqual(['web', 'worker', 'api']);
    expect(graph.descendantsOf('api')).toEqual([]);
  });

  it('measures the longest chain below a recipe (the build starts those first)', () => {
    expect(['base', 'web', 'api', 'worker', 'tools'].map((name) => graph.heightOf(name))).toEqual([3, 2, 1, 1, 1]);
  });

  it('adds to the asked recipes every recipe they are built FROM, parents first', () => {
    const api = bakery[0];
    expect(names(graph.withAncestors([api]))).toEqual(['base', 'web', 'api']);
    expect(names(graph.withAncestors([bakery[2], api]))).toEqual(['base', 'web', 'worker', 'api']);
  });

  it('refuses to add ancestors through an unknown parent or a cycle, at the recipe: line', () => {
    const broken = RecipeGraph.of([recipe('a', 'b'), recipe('b', 'a'), recipe('c', 'ghost')]);
    expect(() => broken.withAncestors([broken.get('a')!])).toThrow('recipe cycle: a → b → a');
    expect(() => broken.withAncestors([broken.get('c')!])).toThrow(RecipeError);
    try {
      broken.withAncestors([broken.get('c')!]);
    } catch (error) {
      expect((error as RecipeError).toLine()).toBe('/bakery/recipes/c.yaml:3:11: unknown parent recipe ghost (known: a, b, c)');
    }
  });

  it('is a graph over anything named after a recipe, with the parent it records', () => {
    const entries = [
      { name: 'web', parent: 'base' },
      { name: 'base', parent: undefined },
      { name: 'api', parent: 'web' },
    ];
    const plan = RecipeGraph.over(entries, (entry) => entry.parent);
    expect(plan.levels().map(names)).toEqual([['base'], ['web'], ['api']]);
    expect(plan.rootOf('api')).toBe(entries[1]);
  });

  it('selects the named recipes in bakery order, or all of them when none are named', () => {
    const b = { recipes: bakery } as Bakery;
    expect(names(selectRecipes(b, ['worker', 'api', 'worker']))).toEqual(['api', 'worker']);
    expect(selectRecipes(b, [])).toEqual(bakery);
  });

  it('refuses an unknown recipe name and lists the known ones', () => {
    const b = { recipes: bakery } as Bakery;
    expect(() => selectRecipes(b, ['wbe'])).toThrow(UsageError);
    expect(() => selectRecipes(b, ['wbe'])).toThrow('unknown recipe wbe (this bakery has: api, web, worker, base, tools)');
    expect(() => selectRecipes(b, ['wbe', 'api', 'wokrer'])).toThrow('unknown recipes wbe, wokrer (this bakery has: api, web, worker, base, tools)');
  });

  it('names a cycle in the order it goes round, at the recipe: value', () => {
    expect(errors([recipe('a', 'b'), recipe('b', 'c'), recipe('c', 'a')])).toEqual([
      '/bakery/recipes/a.yaml:3:11: recipe cycle: a → b → c → a',
      '/bakery/recipes/b.yaml:3:11: recipe cycle: b → c → a → b',
      '/bakery/recipes/c.yaml:3:11: recipe cycle: c → a → b → c',
    ]);
  });

  it('reports a cycle at its own recipes, not at a child hanging below it', () => {
    expect(errors([recipe('a', 'b'), recipe('b', 'a'), recipe('child', 'a')])).toEqual([
      '/bakery/recipes/a.yaml:3:11: recipe cycle: a → b → a',
      '/bakery/recipes/b.yaml:3:11: recipe cycle: b → a → b',
    ]);
  });

  it('does not loop forever on a cycle when building levels or walking the graph', () => {
    const cyclic = RecipeGraph.of([recipe('a', 'b'), recipe('b', 'a')]);
    expect(cyclic.levels().flat()).toHaveLength(2);
    expect(names(cyclic.ancestorsOf('a'))).toEqual(['b']);
    expect(names(cyclic.descendantsOf('a'))).toEqual(['b']);
    expect(cyclic.heightOf('a')).toBe(2);
  });

  it('wants a child’s regions to be a subset of its parent’s', () => {
    expect(errors([recipe('base', undefined, ['us-east-1']), recipe('web', 'base', ['us-east-1', 'eu-west-1'])])).toEqual([
      '/bakery/recipes/web.yaml:4:1: regions eu-west-1 are not built by parent recipe base',
    ]);
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
