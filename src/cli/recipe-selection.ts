/**
 * The recipes a command works on: the named ones (default: all) and, with `--changed-since REF`,
 * only those whose inputs changed since REF (src/pipeline/changed-since.ts), saying which and why.
 */
import { changedSince, narrowToChanged, type ChangedSince } from '../pipeline/changed-since.js';
import { selectRecipes } from '../recipes/graph.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import type { CommandContext } from './context.js';
import { InvalidArgumentError } from 'commander';
import { ARCHITECTURES, isArchitecture, type Architecture } from '../tags/architecture.js';

export const ARCH_HELP = `only this architecture's images of the recipes (${ARCHITECTURES.join(' or ')})`;

/** `--arch ARCH`: one of the architectures bake builds. */
export function architectureArgument(value: string): Architecture {
  if (!isArchitecture(value)) throw new InvalidArgumentError(`expected ${ARCHITECTURES.join(' or ')}`);
  return value;
}

export const CHANGED_SINCE_HELP =
  'only recipes whose inputs (roles with their dependencies, cloud-init, recipe, parent) changed since this git ref';

export async function recipesToWorkOn(
  ctx: CommandContext,
  bakery: Bakery,
  names: string[],
  changedSinceRef: string | undefined,
  architecture?: Architecture,
): Promise<{ recipes: Recipe[]; changes?: ChangedSince }> {
  const recipes = selectRecipes(bakery, names, architecture);
  if (changedSinceRef === undefined) return { recipes };
  const changes = await changedSince(bakery, changedSinceRef);
  const narrowed = narrowToChanged(recipes, changes);
  for (const line of narrowed.lines) ctx.output.info(line);
  return { recipes: narrowed.recipes, changes };
}
