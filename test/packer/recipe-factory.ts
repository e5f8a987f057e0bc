/** Recipes and bakeries built directly, as the loader would produce them. */
import type { Bakery, Recipe } from '../../src/recipes/model.js';

export const here = (file = '/srv/bakery/recipes/web.yaml') => ({ file, line: 1, col: 1 });

export function recipe(overrides: Partial<Recipe> = {}): Recipe {
  const name = overrides.name ?? 'web';
  const file = overrides.file ?? `/srv/bakery/recipes/${name}.yaml`;
  return {
    name,
    description: `${name} image`,
    file,
    base: { kind: 'ami', ami: 'ami-0123456789abcdef0' },
    regions: ['us-east-1'],
    instanceType: 't3.small',
    sshUsername: 'admin',
    roles: [],
    cloudInit: [],
    tags: {},
    pin: [],
    ssmPins: [],
    encrypted: false,
    kmsKeyIds: {},
    imdsv2: false,
    shareWith: [],
    verify: [],
    ansibleEnv: [],
    locations: {},
    ...overrides,
  };
}

export function bakery(recipes: Recipe[], overrides: Partial<Bakery> = {}): Bakery {
  return {
    root: '/srv/bakery',
    config: {
      regions: ['us-east-1'],
      instanceType: 't3.small',
      sshUsername: 'admin',
      tags: {},
      encrypted: false,
      imdsv2: false,
      pinRoots: [],
      bakery: 'bake-tests',
      bakerySource: 'config',
      environments: [],
      promotion: {},
    },
    recipes,
    roles: new Map(),
    ...overrides,
  };
}
