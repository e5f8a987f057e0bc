/**
 * The `bake:inputs` tag: one short digest per fingerprint component, so a later plan can say
 * WHICH kind of input changed even when the commit an image was built from is not in its clone.
 */
export const COMPONENTS = ['recipe', 'roles', 'cloudInit', 'base', 'parent', 'generator'] as const;
export type Component = (typeof COMPONENTS)[number];
export type ComponentDigests = Record<Component, string>;

const TAG_KEYS: Record<Component, string> = {
  recipe: 'recipe',
  roles: 'roles',
  cloudInit: 'cloud-init',
  base: 'base',
  parent: 'parent',
  generator: 'gen',
};

/** "recipe=…,roles=…,cloud-init=…,base=…,parent=…,gen=…": 6 × 12 hex + keys = 117 characters, under EC2's 256. */
export function formatInputsTag(digests: ComponentDigests): string {
  return COMPONENTS.map((c) => `${TAG_KEYS[c]}=${digests[c]}`).join(',');
}

/** The components an image's tag records; undefined for an image tagged before bake:inputs existed. */
export function parseInputsTag(value: string | undefined): Partial<ComponentDigests> | undefined {
  if (!value) return undefined;
  const byKey = new Map(
    value.split(',').map((pair) => {
      const eq = pair.indexOf('=');
      return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()] as const;
    }),
  );
  const digests: Partial<ComponentDigests> = {};
  for (const c of COMPONENTS) {
    const digest = byKey.get(TAG_KEYS[c]);
    if (digest !== undefined) digests[c] = digest;
  }
  return Object.keys(digests).length > 0 ? digests : undefined;
}
