/** `bake render`'s core: the named recipes (default: all), each into OUT/<recipe>/. */
import type { Bakery } from '../recipes/model.js';
import { selectRecipes } from '../recipes/graph.js';
import { renderRecipe, type RenderedRecipe, type RenderOptions } from './render.js';

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
