/**
 * CPU architectures bake builds images for, as EC2 names them (DescribeImages' Architecture, the
 * `architecture` image filter) and as the `bake:arch` tag holds them. Foundation: the recipe
 * loader, the image catalog and the local cloud all ask the same questions of an instance type.
 */

export const ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** A recipe that says nothing builds this one architecture, as bake always did. */
export const DEFAULT_ARCHITECTURE: Architecture = 'x86_64';

/** Graviton families carry a `g` after the generation digit (t4g, m7g); a1 is Graviton too. */
export function architectureOf(instanceType: string): Architecture {
  const family = instanceType.split('.')[0];
  return family === 'a1' || /^[a-z]+\d+g[a-z]*$/.test(family) ? 'arm64' : 'x86_64';
}

export function isArchitecture(value: string | undefined): value is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(value ?? '');
}

/**
 * The name one (recipe, architecture) pair goes by inside bake (plan entries, build steps, the
 * recipe graph, work folders, locks): the recipe's own name for x86_64, so that images baked
 * before bake knew architectures stay that recipe's, and `<recipe>.<arch>` for the others. A
 * recipe name cannot hold a dot, so the two never meet.
 */
export function recipeKey(recipe: string, architecture: Architecture): string {
  return architecture === DEFAULT_ARCHITECTURE ? recipe : `${recipe}.${architecture}`;
}

/** The recipe and architecture of a key made by recipeKey (`web.arm64` → web, arm64). */
export function splitRecipeKey(key: string): { recipe: string; architecture: Architecture } {
  const dot = key.lastIndexOf('.');
  const suffix = dot < 0 ? undefined : key.slice(dot + 1);
  return isArchitecture(suffix)
    ? { recipe: key.slice(0, dot), architecture: suffix }
    : { recipe: key, architecture: DEFAULT_ARCHITECTURE };
}
