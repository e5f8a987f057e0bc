/**
 * A run's templates, rendered ahead: a recipe's Packer template, playbook and scripts do not
 * depend on the image it is built on (the source image reaches Packer through the var file
 * written at its bake), so every recipe the run bakes is rendered at the start, one at a time in
 * plan order (parents first: the first bake's own render is never queued behind another's).
 * When a parent's image is finished, its children have only their var file left to write before
 * their Packer starts. A render that fails is that recipe's failure, met when its bake starts.
 */
import type { PlannedRecipe, RenderedForBuild } from './build-run.js';

export type RenderedAhead = Map<string, Promise<RenderedForBuild>>;

export function renderAhead(
  entries: PlannedRecipe[],
  render: (entry: PlannedRecipe) => Promise<RenderedForBuild>,
): RenderedAhead {
  const rendered: RenderedAhead = new Map();
  let previous: Promise<unknown> = Promise.resolve();
  for (const entry of entries) {
    const next = previous.then(
      () => render(entry),
      () => render(entry),
    );
    // Awaited by the recipe's bake, which reports a failure; a bake that never starts (its parent
    // failed) leaves it unread.
    next.catch(() => undefined);
    rendered.set(entry.name, next);
    previous = next;
  }
  return rendered;
}
