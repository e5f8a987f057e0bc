/**
 * The recipe graph: which recipe is built FROM which. Every question about it (parents,
 * children, ancestors, descendants, build order, waves, the root a chain starts from, which
 * recipes a command works on and what they need) is answered here, over one walk
 * (src/recipes/dag.ts); the loader reports its problems (unknown parent, cycle, regions the
 * parent lacks) at the `recipe:` line that causes them.
 */
import { RecipeError, UsageError } from '../errors/index.js';
import { Dag } from './dag.js';
import type { Bakery, Recipe } from './model.js';
import type { Architecture } from '../tags/architecture.js';
import { architectureOfRecipe, recipeNameOf } from './architectures.js';

/** The recipe a recipe is built FROM, as written (it may not exist). */
export const parentNameOf = (recipe: Recipe): string | undefined => (recipe.base.kind === 'recipe' ? recipe.base.recipe : undefined);

/** Anything that stands for one recipe: the recipe itself, a plan's entry, a report's node. */
export interface Named {
  name: string;
}

/**
 * The graph over recipes, or over things that stand for recipes (a plan's entries, with the
 * parent the plan recorded): `RecipeGraph.of(recipes)`, `RecipeGraph.over(entries, parentOf)`.
 * A parent that is not among them counts as a base image: its child is a root here.
 */
export class RecipeGraph<T extends Named = Recipe> {
  private readonly byName: Map<string, T>;
  private readonly dag: Dag;

  private constructor(
    readonly recipes: readonly T[],
    parentName: (item: T) => string | undefined,
  ) {
    this.byName = new Map(recipes.map((recipe) => [recipe.name, recipe]));
    this.dag = new Dag(
      recipes.map((recipe) => {
        const parent = parentName(recipe);
        return { id: recipe.name, parents: parent === undefined ? [] : [parent] };
      }),
    );
  }

  static of(recipes: readonly Recipe[]): RecipeGraph<Recipe> {
    return new RecipeGraph(recipes, parentNameOf);
  }

  static over<T extends Named>(items: readonly T[], parentName: (item: T) => string | undefined): RecipeGraph<T> {
    return new RecipeGraph(items, parentName);
  }

  get(name: string): T | undefined {
    return this.byName.get(name);
  }

  private all(names: readonly string[]): T[] {
    return names.map((name) => this.byName.get(name)!);
  }

  /** The parent, when it is one of this graph's. */
  parentOf(name: string): T | undefined {
    return this.all(this.dag.parentsOf(name))[0];
  }

  childrenOf(name: string): T[] {
    return this.all(this.dag.childrenOf(name));
  }

  /** Root first. Stops at a cycle (loadBakery reports those) instead of looping. */
  ancestorsOf(name: string): T[] {
    return this.all(this.dag.ancestorsOf(name));
  }

  /** Children before grandchildren. */
  descendantsOf(name: string): T[] {
    return this.all(this.dag.descendantsOf(name));
  }

  /** The first recipe of the chain `name` is built on (itself when it has no parent here). */
  rootOf(name: string): T | undefined {
    return this.ancestorsOf(name)[0] ?? this.byName.get(name);
  }

  /** 0 without a parent here, else one more than the parent: the wave a recipe is built in. */
  depthOf(name: string): number {
    return this.dag.depthOf(name);
  }

  /** Recipes on the longest chain from this one down to a leaf, itself included. */
  heightOf(name: string): number {
    return this.dag.heightOf(name);
  }

  /** Parents before children: level 0 has no parent here; the given order within a level. */
  levels(): T[][] {
    return this.dag.levels().map((level) => this.all(level));
  }

  /** Every recipe, parents before children. */
  inBuildOrder(): T[] {
    return this.all(this.dag.order());
  }

  /** The recipes named on the command line (none = all), in bakery order; an unknown name is a usage error. */
  select(names: readonly string[]): T[] {
    if (names.length === 0) return [...this.recipes];
    const unknown = [...new Set(names.filter((name) => !this.byName.has(name)))];
    if (unknown.length) {
      const known = this.recipes.map((r) => r.name).join(', ') || 'none';
      throw new UsageError(`unknown recipe${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (this bakery has: ${known})`);
    }
    const wanted = new Set(names);
    return this.recipes.filter((recipe) => wanted.has(recipe.name));
  }

  /**
   * The asked recipes and every recipe they are built FROM, parents first (by depth, then bakery
   * order). A chain that cannot be built (unknown parent, cycle) is refused at its `recipe:` line.
   */
  withAncestors(this: RecipeGraph<Recipe>, asked: readonly Recipe[]): Recipe[] {
    const wanted = new Set<string>();
    for (const recipe of asked) {
      if (!this.byName.has(recipe.name)) throw new UsageError(`unknown recipe ${recipe.name}`);
      for (const name of [recipe.name, ...this.dag.ancestorsOf(recipe.name)]) {
        if (wanted.has(name)) continue;
        wanted.add(name);
        const problem = this.chainError(this.byName.get(name)!);
        if (problem) throw problem;
      }
    }
    return this.inBuildOrder().filter((recipe) => wanted.has(recipe.name));
  }

  /** Unknown parents, cycles, and children asking for regions their parent does not have. */
  errors(this: RecipeGraph<Recipe>): RecipeError[] {
    const errors: RecipeError[] = [];
    for (const recipe of this.recipes) {
      const problem = this.chainError(recipe);
      if (problem) errors.push(problem);
      const parent = this.parentOf(recipe.name);
      const missing = parent ? recipe.regions.filter((r) => !parent.regions.includes(r)) : [];
      if (missing.length)
        errors.push(new RecipeError(`regions ${missing.join(', ')} are not built by parent recipe ${parent!.name}`, recipe.locations['regions'] ?? whereParentIsNamed(recipe)));
    }
    return errors;
  }

  /** Why this recipe cannot be built from its parent: the parent does not exist, or the chain comes back to it. */
  private chainError(this: RecipeGraph<Recipe>, recipe: Recipe): RecipeError | undefined {
    const parent = parentNameOf(recipe);
    if (!parent) return undefined;
    if (!this.byName.has(parent)) return new RecipeError(`unknown parent recipe ${parent} (known: ${[...this.byName.keys()].join(', ')})`, whereParentIsNamed(recipe));
    // Reported at each recipe of the cycle, going round from it.
    const cycle = this.dag.cycleThrough(recipe.name);
    return cycle ? new RecipeError(`recipe cycle: ${cycle.join(' → ')}`, whereParentIsNamed(recipe)) : undefined;
  }
}

function whereParentIsNamed(recipe: Recipe) {
  return recipe.locations['base.recipe'] ?? recipe.locations['base'] ?? { file: recipe.file, line: 1, col: 1 };
}

/**
 * The recipes named on the command line (none = all), in bakery order: a recipe's name selects
 * each of its architectures (`web` → web and web.arm64), a key one of them (`web.arm64`), and
 * `--arch` keeps one architecture's. A named recipe without that architecture is a usage error.
 */
export function selectRecipes(bakery: Bakery, names: readonly string[], architecture?: Architecture): Recipe[] {
  const keys = names.flatMap((name) => {
    const own = bakery.recipes.filter((recipe) => recipeNameOf(recipe) === name).map((recipe) => recipe.name);
    return own.length ? own : [name];
  });
  const selected = RecipeGraph.of(bakery.recipes).select(keys);
  if (architecture === undefined) return selected;
  const kept = selected.filter((recipe) => architectureOfRecipe(recipe) === architecture);
  const without = [...new Set(selected.map(recipeNameOf))].filter((name) => !kept.some((recipe) => recipeNameOf(recipe) === name));
  if (names.length > 0 && without.length > 0)
    throw new UsageError(`${without.join(', ')} build${without.length === 1 ? 's' : ''} no ${architecture} image (--arch ${architecture})`);
  if (kept.length === 0) throw new UsageError(`no recipe builds ${architecture} (--arch ${architecture})`);
  return kept;
}
