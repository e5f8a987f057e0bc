/** Builds small in-memory bakeries for the pipeline tests (the loader has its own tests). */
import type { BaseImage, Bakery, Recipe } from '../../src/recipes/model.js';

export function recipeOf(root: string, name: string, base: BaseImage, extra: Partial<Recipe> = {}): Recipe {
  const file = `${root}/recipes/${name}.yaml`;
  return {
    name,
    description: `${name} image`,
    file,
    base,
    regions: ['us-east-1'],
    instanceType: 't3.small',
    sshUsername: 'admin',
    roles: [],
    cloudInit: [],
    tags: { team: 'platform' },
    pin: [],
    ssmPins: [],
    encrypted: false,
    kmsKeyIds: {},
    imdsv2: false,
    shareWith: [],
    verify: [],
    ansibleEnv: [],
    locations: { name: { file, line: 1, col: 1 } },
    ...extra,
  };
}

export function bakeryOf(root: string, recipes: Recipe[]): Bakery {
  return {
    root,
    config: {
      regions: ['us-east-1'],
      instanceType: 't3.small',
      sshUsername: 'admin',
      tags: { owner: 'bake-tests' },
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
  };
}
