/**
 * The roles a recipe really runs: the ones it names plus, through each role's meta/main.yml
 * `dependencies`, everything they pull in. A change in any of them must rebuild the recipe.
 */
import { RecipeError, type SourceLocation } from '../errors/index.js';
import type { Role } from '../recipes/model.js';

export function roleClosureOf(
  roles: Map<string, Role>,
  uses: Array<{ name: string; location?: SourceLocation }>,
): Role[] {
  const seen = new Map<string, Role>();
  const visit = (name: string, location: SourceLocation | undefined) => {
    if (seen.has(name)) return;
    const role = roles.get(name);
    if (!role) {
      // The loader reports unknown roles first; this only guards a bakery built by hand.
      throw new RecipeError(`unknown role ${name}`, location ?? { file: '<bakery>', line: 1, col: 1 });
    }
    seen.set(name, role);
    for (const dependency of role.dependencies) visit(dependency, location);
  };
  for (const use of uses) visit(use.name, use.location);
  return [...seen.values()];
}
