import { RecipeError, UsageError } from '../errors/index.js';
import type { Bakery, Recipe } from './model.js';

const parentName = (recipe: Recipe) => (recipe.base.kind === 'recipe' ? recipe.base.recipe : undefined);

/** Parents before children: level 0 has no parent in the bakery. */
export function buildLevels(recipes: Recipe[]): Recipe[][] {
  const byName = new Map(recipes.map((r) => [r.name, r]));
  const depth = new Map<string, number>();
  const depthOf = (recipe: Recipe, seen: Set<string>): number => {
    if (depth.has(recipe.name)) return depth.get(recipe.name)!;
    const parent = parentName(recipe);
    const parentRecipe = parent ? byName.get(parent) : undefined;
    const value = parentRecipe && !seen.has(parentRecipe.name) ? depthOf(parentRecipe, new Set([...seen, recipe.name])) + 1 : 0;
    depth.set(recipe.name, value);
    return value;
  };
  const levels: Recipe[][] = [];
  for (const recipe of recipes) (levels[depthOf(recipe, new Set())] ??= []).push(recipe);
  return levels.filter(Boolean);
}

/** Root first. Stops at a cycle (loadBakery reports those) instead of looping. */
export function ancestorsOf(recipes: Recipe[], name: string): Recipe[] {
  const byName = new Map(recipes.map((r) => [r.name, r]));
  const out: Recipe[] = [];
  const seen = new Set([name]);
  const parentOf = (recipe: Recipe | undefined) => (recipe ? byName.get(parentName(recipe) ?? '') : undefined);
  for (let parent = parentOf(byName.get(name)); parent && !seen.has(parent.name); parent = parentOf(parent)) {
    seen.add(parent.name);
    out.unshift(parent);
  }
  return out;
}

export function descendantsOf(recipes: Recipe[], name: string): Recipe[] {
  const out: Recipe[] = [];
  const queue = [name];
  while (queue.length) {
    const current = queue.shift()!;
    for (const recipe of recipes) {
      if (parentName(recipe) === current && !out.includes(recipe)) {
        out.push(recipe);
        queue.push(recipe.name);
      }
    }
  }
  return out;
}

/** The recipes named on the command line (none = all), in bakery order. */
export function selectRecipes(bakery: Bakery, names: string[]): Recipe[] {
  if (names.length === 0) return bakery.recipes;
  const known = new Set(bakery.recipes.map((r) => r.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new UsageError(`unknown recipe ${unknown.join(', ')} (this bakery has: ${[...known].join(', ')})`);
  return bakery.recipes.filter((r) => names.includes(r.name));
}

/** Unknown parents, cycles, and children asking for regions their parent does not have. */
export function graphErrors(recipes: Recipe[]): RecipeError[] {
  const byName = new Map(recipes.map((r) => [r.name, r]));
  const errors: RecipeError[] = [];
  for (const recipe of recipes) {
    const parent = parentName(recipe);
    if (!parent) continue;
    const where = recipe.locations['base.recipe'] ?? recipe.locations['base'] ?? { file: recipe.file, line: 1, col: 1 };
    const parentRecipe = byName.get(parent);
    if (!parentRecipe) {
      errors.push(new RecipeError(`unknown parent recipe ${parent} (known: ${[...byName.keys()].join(', ')})`, where));
      continue;
    }
    const trail = [recipe.name];
    for (let current: Recipe | undefined = parentRecipe; current; current = byName.get(parentName(current) ?? '')) {
      if (current.name === recipe.name) {
        errors.push(new RecipeError(`recipe cycle: ${[...trail, recipe.name].join(' → ')}`, where));
        break;
      }
      if (trail.includes(current.name)) break; // a cycle elsewhere; reported at its own recipes
      trail.push(current.name);
    }
    const missing = recipe.regions.filter((r) => !parentRecipe.regions.includes(r));
    if (missing.length)
      errors.push(new RecipeError(`regions ${missing.join(', ')} are not built by parent recipe ${parent}`, recipe.locations['regions'] ?? where));
  }
  return errors;
}
