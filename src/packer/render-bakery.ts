/** `bake render`'s core: the named recipes (default: all), each into OUT/<recipe>/. */
import type { Bakery, Recipe } from '../recipes/model.js';
import { UsageError } from '../errors/index.js';
import { renderRecipe, type RenderedRecipe, type RenderOptions } from './render.js';

export function selectRecipes(bakery: Bakery, names: readonly string[]): Recipe[] {
  if (names.length === 0) return bakery.recipes;
  const known = new Map(bakery.recipes.map((recipe) => [recipe.name, recipe]));
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    const list = [...known.keys()].join(', ') || 'none';
    throw new UsageError(`unknown recipe${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (the bakery has: ${list})`);
  }
  return [...new Set(names)].map((name) => known.get(name)!);
}

export async function renderBakery(
  bakery: Bakery,
  names: readonly string[],
  outDir: string,
  options: RenderOptions,
): Promise<RenderedRecipe[]> {
  const rendered: RenderedRecipe[] = [];
  for (const recipe of selectRecipes(bakery, names)) rendered.push(await renderRecipe(bakery, recipe, outDir, options));
  return rendered;
}
