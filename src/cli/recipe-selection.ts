/**
 * The recipes a command works on: the named ones (default: all) and, with `--changed-since REF`,
 * only those whose inputs changed since REF (src/pipeline/changed-since.ts), saying which and why.
 */
import { changedSince, narrowToChanged, type ChangedSince } from '../pipeline/changed-since.js';
import { selectRecipes } from '../recipes/graph.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import type { CommandContext } from './context.js';

export const CHANGED_SINCE_HELP =
  'only recipes whose inputs (roles with their dependencies, cloud-init, recipe, parent) changed since this git ref';

export async function recipesToWorkOn(
  ctx: CommandContext,
  bakery: Bakery,
  names: string[],
  changedSinceRef: string | undefined,
): Promise<{ recipes: Recipe[]; changes?: ChangedSince }> {
  const recipes = selectRecipes(bakery, names);
  if (changedSinceRef === undefined) return { recipes };
  const changes = await changedSince(bakery, changedSinceRef);
  const narrowed = narrowToChanged(recipes, changes);
  for (const line of narrowed.lines) ctx.output.info(line);
  return { recipes: narrowed.recipes, changes };
}
